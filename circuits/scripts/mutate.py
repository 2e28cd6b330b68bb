#!/usr/bin/env python3
"""Checks that every constraint of MeterCircuit has a test that notices its removal.

For each constraint-making call in `MeterCircuit::generate_constraints` (enforce_*,
range checks, booleans, products), this script deletes that one constraint in a copy
of the repository, runs the circuit tests, and reports whether some test failed
("caught") or all passed ("SURVIVED": a soundness gap in the tests, or the circuit).
The constraint-count test is skipped, since it notices every removal.

    python3 circuits/scripts/mutate.py [--keep COPY_DIR]

Takes about a minute per constraint on two cores (the first one builds the
dependencies in the copy). Exit status 1 if any mutant survived.
"""
import argparse, os, re, shutil, subprocess, sys, tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
CIRCUIT = 'circuits/src/meter_circuit.rs'

def mutate(line, col, kind):
    rest = line[col:]
    if kind.startswith('enforce_'):
        # A constraint enforced on no constraint system is not enforced at all.
        return line[:col] + rest.replace('(&cs', '(&ark_relations::gr1cs::ConstraintSystemRef::None', 1)
    if kind == 'alloc_bits':
        m = re.match(r'alloc_bits\(&cs, (.*), (\w+_BITS)\)', rest)
        return m and line[:col] + 'Num::witness(&cs, ' + m.group(1) + ')' + rest[m.end():]
    if kind == 'product':
        m = re.match(r'product\(&cs, ([^,]+), ([^,]+), (\w+)\)', rest)
        return m and line[:col] + 'Num::witness(&cs, ' + m.group(3) + ')' + rest[m.end():]
    return line[:col] + rest.replace('alloc_boolean(&cs', 'Num::witness(&cs', 1)

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--keep', help='copy the repository here and keep it (reuses its build)')
    args = parser.parse_args()
    copy = args.keep or tempfile.mkdtemp(prefix='zkmeter-mutants-')
    files = subprocess.run(['git', 'ls-files'], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        os.makedirs(os.path.join(copy, os.path.dirname(f)), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, f), os.path.join(copy, f))
    path = os.path.join(copy, CIRCUIT)
    source = open(path).read()
    lines = source.split('\n')
    first = source[:source.index('fn generate_constraints')].count('\n')
    last = first + source[source.index('fn generate_constraints'):].index('\n}\n') + 1
    survivors = 0
    for i in range(first, last):
        if lines[i].strip().startswith('//'):
            continue
        for m in re.finditer(r'(enforce_\w+|alloc_bits|alloc_boolean|product)\(&cs', lines[i]):
            mutated = mutate(lines[i], m.start(), m.group(1))
            if not mutated:
                print(f'line {i + 1}: cannot mutate {lines[i].strip()}')
                continue
            open(path, 'w').write('\n'.join(lines[:i] + [mutated] + lines[i + 1:]))
            run = subprocess.run(
                ['cargo', 'test', '-q', '-p', 'zkmeter-circuits', '--test', 'meter_rules', '--test', 'prove_and_keys',
                 '--', '--skip', 'constraints_per_record_are_pinned'],
                cwd=copy, capture_output=True, text=True)
            failed = re.findall(r'^    (\w+)$', run.stdout, re.M)
            if 'error[' in run.stderr and not failed:
                verdict = 'does not compile'
            elif run.returncode != 0:
                verdict = 'caught by ' + ', '.join(failed)
            else:
                verdict = 'SURVIVED'
                survivors += 1
            print(f'line {i + 1}: {m.group(1)}: {verdict}', flush=True)
    open(path, 'w').write(source)
    if not args.keep:
        shutil.rmtree(copy)
    sys.exit(1 if survivors else 0)

if __name__ == '__main__':
    main()
