// Bundle-time stand-in for node-fetch, which the Dropbox SDK requires at load time although we
// always inject our own fetch. The real one pulls in the deprecated `punycode` module.
module.exports = (...args) => globalThis.fetch(...args);
