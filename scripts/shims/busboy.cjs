// Bundle-time stand-in for @fastify/busboy, which undici 5's Response (the Node 16 polyfill) loads
// only to parse multipart bodies in formData(). Nothing here reads a multipart body.
module.exports = function Busboy() {
  throw new Error("multipart/form-data bodies are not supported by this bundle");
};
