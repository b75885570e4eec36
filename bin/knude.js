#!/usr/bin/env node
// The CLI runs the compiled code in dist/ (built by `npm run build`, which both README commands do).
import('../dist/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/main.js')) {
    console.error('knude: dist/ is missing; run `npm run build` first');
    process.exit(2);
  }
  throw err;
});
