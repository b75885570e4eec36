import { main } from './commands.js';

// The executable entry (bin/knude.js); the commands live in commands.ts so tests can import them.
const code = await main(process.argv.slice(2));
if (code !== 0) process.exitCode = code;
