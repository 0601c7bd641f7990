// tslab compiles notebook cells to CommonJS, where TypeScript rewrites `import()` into `require()`,
// which cannot load ES modules such as lpclust's dist/ (or vega). This helper is plain CommonJS,
// so Node keeps its `import()`: cells call `esmImport(path)` to load an ES module.
const { pathToFileURL } = require('node:url');
const path = require('node:path');

/** Import an ES module by file path (relative to the current directory) or package name. */
module.exports.esmImport = (specifier) =>
  import(specifier.startsWith('.') || path.isAbsolute(specifier) ? pathToFileURL(path.resolve(specifier)).href : specifier);
