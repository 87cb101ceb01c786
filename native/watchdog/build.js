// Run by `npm install` / `npm ci` (the root package's install script): builds
// the watchdog addon with the node-gyp npm ships. A failed build is not an
// error: vmgate then times realm entries with node:vm's own watchdog.

const { spawnSync } = require('node:child_process');

const gyp = process.platform === 'win32' ? 'node-gyp.cmd' : 'node-gyp';
const result = spawnSync(gyp, ['rebuild', '--loglevel=warn'], {
  cwd: __dirname,
  stdio: 'inherit',
  shell: process.platform === 'win32',
});
if (result.status !== 0) {
  console.warn('vmgate: the native watchdog was not built; realm entries will use node:vm timeouts');
}
