import { http, HttpResponse, getResponse } from "msw";
const r = HttpResponse.error();
console.log("direct", r.type, r.status);
const g = await getResponse([http.post("*/x", () => HttpResponse.error())], new Request("http://a/x", { method: "POST" }));
console.log("via getResponse", g?.type, g?.status);
