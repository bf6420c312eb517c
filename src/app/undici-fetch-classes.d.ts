// undici 5 ships no types for its internal modules; ./node16-globals.ts takes only these classes.
declare module "undici/lib/fetch/headers.js" {
  export const Headers: typeof globalThis.Headers;
}
declare module "undici/lib/fetch/request.js" {
  export const Request: typeof globalThis.Request;
}
declare module "undici/lib/fetch/response.js" {
  export const Response: typeof globalThis.Response;
}
declare module "undici/lib/fetch/formdata.js" {
  export const FormData: typeof globalThis.FormData;
}
