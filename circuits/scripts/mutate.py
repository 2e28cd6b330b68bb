#!/usr/bin/env python3
"""Checks that every constraint of a circuit has a test that notices its removal.

For each constraint-making call of a circuit (enforce_*, range checks, booleans,
products), this script deletes that one call in a copy of the repository, runs the
circuit's tests, and reports whether some test failed ("caught") or all passed
("SURVIVED": a soundness gap in the tests, or the circuit). A call in a helper that
runs many times (a loop, a fold) is deleted everywhere at once. The constraint-count
tests are skipped, since they notice every removal.

    python3 circuits/scripts/mutate.py [--circuit meter|workload] [--keep COPY_DIR]

meter (the default) mutates `MeterCircuit::generate_constraints`; workload mutates
`circuits/src/workload/circuit.rs` from `WorkloadCircuit`'s `generate_constraints` to
the end of the file (its helpers included). The copy holds the tracked files and the
untracked ones git does not ignore, so uncommitted work is tested too. Each mutant
rebuilds zkmeter-circuits: point CARGO_TARGET_DIR at a target directory that already
holds the dependencies, and set CARGO_PROFILE_TEST_OPT_LEVEL=1 to build the crate
itself faster (the dependencies stay optimised):

    CARGO_PROFILE_TEST_OPT_LEVEL=1 python3 circuits/scripts/mutate.py --circuit workload

About a minute per mutant on two quiet cores. Exit status 1 if any mutant survived.
"""
import argparse, os, re, shutil, subprocess, sys, tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
CIRCUITS = {
    'meter': dict(
        path='circuits/src/meter_circuit.rs',
        start='fn generate_constraints',
        whole_file=False,
        tests=['meter_rules', 'prove_and_keys'],
        skip=['constraints_per_record_are_pinned'],
    ),
    'workload': dict(
        path='circuits/src/workload/circuit.rs',
        start='impl ConstraintSynthesizer<Fr> for WorkloadCircuit',
        whole_file=True,
        tests=['workload_rules'],
        skip=['constraint_counts_are_exact_and_pinned'],
    ),
}
CALL = re.compile(r'\b(enforce_\w+|alloc_bits|alloc_boolean|product)\((&?cs)\b')


def arguments(line, open_paren):
    """The top-level arguments of the call whose '(' is at open_paren, and the index
    just past its ')'; None if the call does not close on this line."""
    depth, args, start = 0, [], open_paren + 1
    for i in range(open_paren, len(line)):
        c = line[i]
        if c in '([{':
            depth += 1
        elif c in ')]}':
            depth -= 1
            if depth == 0:
                args.append(line[start:i].strip())
                return args, i + 1
        elif c == ',' and depth == 1:
            args.append(line[start:i].strip())
            start = i + 1
    return None


def mutate(line, match):
    kind, cs = match.group(1), match.group(2)
    if kind.startswith('enforce_'):
        # A constraint enforced on no constraint system is not enforced at all.
        return line[:match.start(2)] + '&ark_relations::gr1cs::ConstraintSystemRef::None' + line[match.end(2):]
    parsed = arguments(line, match.end(1))
    if not parsed:
        return None
    args, end = parsed
    # The value the prover assigns, without the constraint that defines it.
    value = args[1] if kind in ('alloc_bits', 'alloc_boolean') else args[3]
    return line[:match.start()] + f'Num::witness({cs}, {value})' + line[end:]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--circuit', choices=sorted(CIRCUITS), default='meter')
    parser.add_argument('--keep', help='copy the repository here and keep it (reuses its build)')
    args = parser.parse_args()
    circuit = CIRCUITS[args.circuit]
    copy = args.keep or tempfile.mkdtemp(prefix='zkmeter-mutants-')
    files = subprocess.run(['git', 'ls-files', '--cached', '--others', '--exclude-standard'],
                           cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        if not os.path.exists(os.path.join(ROOT, f)):
            continue
        os.makedirs(os.path.join(copy, os.path.dirname(f)), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, f), os.path.join(copy, f))
    path = os.path.join(copy, circuit['path'])
    source = open(path).read()
    lines = source.split('\n')
    start = source.index(circuit['start'])
    first = source[:start].count('\n')
    if circuit['whole_file']:
        last = len(lines)
    else:
        last = first + source[start:start + source[start:].index('\n}\n')].count('\n') + 1
    command = ['cargo', 'test', '-q', '-p', 'zkmeter-circuits']
    for t in circuit['tests']:
        command += ['--test', t]
    command.append('--')
    for s in circuit['skip']:
        command += ['--skip', s]
    survivors = 0
    for i in range(first, last):
        if lines[i].strip().startswith('//'):
            continue
        for m in CALL.finditer(lines[i]):
            mutated = mutate(lines[i], m)
            if not mutated:
                print(f'line {i + 1}: cannot mutate {lines[i].strip()}')
                continue
            open(path, 'w').write('\n'.join(lines[:i] + [mutated] + lines[i + 1:]))
            run = subprocess.run(command, cwd=copy, capture_output=True, text=True)
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
