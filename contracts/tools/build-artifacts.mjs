#!/usr/bin/env node
// Compiles the deployable contracts and writes their ABI and bytecode to artifacts/,
// one JSON file per contract, so the Rust crate builds without node or forge.
//
//   node tools/build-artifacts.mjs          rewrite artifacts/
//   node tools/build-artifacts.mjs --check  fail if artifacts/ differs from a fresh build
//
// The build goes to a temporary directory (the project's out/ and cache/ are left
// alone). The bytecode carries no metadata hash (foundry.toml), so the output depends
// on the sources, the compiler and its settings only.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const artifactsDir = join(root, 'artifacts');
const DEPLOYABLE = ['Groth16Verifier', 'ResourceToken', 'Settlement'];

const args = process.argv.slice(2);
const check = args.includes('--check');
if (args.some((a) => a !== '--check')) {
  console.error('usage: node tools/build-artifacts.mjs [--check]');
  process.exit(2);
}

const work = mkdtempSync(join(tmpdir(), 'zkmeter-artifacts-'));
let artifacts;
try {
  const out = join(work, 'out');
  execFileSync(
    join(root, 'node_modules', '.bin', 'forge'),
    ['build', '--root', root, '--skip', 'test', '--out', out, '--cache-path', join(work, 'cache')],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const solcVersion = execFileSync(join(root, 'tools', 'solc.cjs'), ['--version'], { encoding: 'utf8' })
    .match(/Version: (\S+)/)[1];
  artifacts = DEPLOYABLE.map((name) => {
    const built = JSON.parse(readFileSync(join(out, `${name}.sol`, `${name}.json`), 'utf8'));
    const artifact = {
      contractName: name,
      sourceName: `src/${name}.sol`,
      compiler: `solc ${solcVersion}`,
      abi: built.abi,
      bytecode: built.bytecode.object,
      deployedBytecode: built.deployedBytecode.object,
    };
    return { file: `${name}.json`, text: `${JSON.stringify(artifact, null, 2)}\n` };
  });
} finally {
  rmSync(work, { recursive: true, force: true });
}

if (check) {
  const problems = [];
  for (const { file, text } of artifacts) {
    const path = join(artifactsDir, file);
    if (!existsSync(path)) problems.push(`${file}: missing`);
    else if (readFileSync(path, 'utf8') !== text) problems.push(`${file}: differs from a fresh build`);
  }
  const expected = new Set(artifacts.map((a) => a.file));
  for (const file of existsSync(artifactsDir) ? readdirSync(artifactsDir) : []) {
    if (!expected.has(file)) problems.push(`${file}: not a deployable contract's artifact`);
  }
  if (problems.length > 0) {
    console.error(`contracts/artifacts is out of date:\n  ${problems.join('\n  ')}`);
    console.error('run `npm run artifacts` in contracts/ and commit the result');
    process.exit(1);
  }
  console.log(`contracts/artifacts matches the sources (${artifacts.length} contracts)`);
} else {
  mkdirSync(artifactsDir, { recursive: true });
  for (const { file, text } of artifacts) writeFileSync(join(artifactsDir, file), text);
  console.log(`wrote ${artifacts.map((a) => `artifacts/${a.file}`).join(', ')}`);
}
