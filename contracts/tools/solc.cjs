#!/usr/bin/env node
// solc for forge, from npm's solcjs (no native binary, no download).
//
// foundry.toml names this file as its compiler. Forge calls it twice over:
//   solc --version              -> "Version: <version>" (forge reads the version from it)
//   solc [flags] --standard-json -> standard JSON in on stdin, standard JSON out on stdout
// Imports that forge did not inline are read from the project (base path = this
// project's root) and from node_modules, the only places the remappings point at.
'use strict';

const fs = require('fs');
const path = require('path');
const solc = require('solc');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);

if (args.includes('--version')) {
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
  process.exit(0);
}
if (!args.includes('--standard-json')) {
  process.stderr.write(`solc shim: only --version and --standard-json are supported (got: ${args.join(' ')})\n`);
  process.exit(2);
}

function flag(name) {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : null;
}
const bases = [flag('--base-path') || root, ...args.flatMap((a, i) => (a === '--include-path' ? [args[i + 1]] : [])), root];

function findImports(importPath) {
  for (const base of bases) {
    const file = path.resolve(base, importPath);
    if (fs.existsSync(file)) return { contents: fs.readFileSync(file, 'utf8') };
  }
  return { error: `File not found: ${importPath} (looked under ${bases.join(', ')})` };
}

const input = fs.readFileSync(0, 'utf8');
process.stdout.write(solc.compile(input, { import: findImports }));
