#!/usr/bin/env python3
"""Checks that every constraint of a circuit has a test that notices when it is deleted or weakened.

For each constraint-making call of a circuit and of its gadgets (enforce_*, range
checks, booleans, products), this script makes mutants of that one call in a copy of
the repository, runs the circuit's tests, and reports whether some test failed
("caught") or all passed ("SURVIVED": a soundness gap in the tests, or the circuit).
Two mutants per call:

  delete   the constraint is gone: enforced on no constraint system, or its value
           allocated as a free witness (the constraint count drops);
  weaken   the same number of constraints, each replaced by the trivially true
           0 · 0 = 0 (the count tests cannot notice).

Inside the range check's loop over bits, three more mutants weaken the booleanity of
one bit only: the lowest, the middle and the top one. A test that only ever puts an
out-of-range value's excess into bit 0 lets the top-bit mutant survive; the tests
try every bit position (`range_check::excess_at`).

A call in a helper that runs many times (a loop, a fold, a gadget) is mutated
everywhere at once. The constraint-count tests are skipped, since they notice every
deletion.

    python3 circuits/scripts/mutate.py [--circuit meter|workload|gadgets|all] [--kind delete|weaken|both] [--keep COPY_DIR]

meter (the default) mutates `circuits/src/meter_circuit.rs` from its
`generate_constraints` to the end; workload mutates `circuits/src/workload/circuit.rs`
from `WorkloadCircuit`'s `generate_constraints` to the end (its commitments are
Poseidon chains: the gadgets run covers them);
gadgets mutates the range checks (`range_check.rs`) and Poseidon (`poseidon.rs`),
running the meter and workload tests and the crate's unit tests. The copy holds the
tracked files and the untracked ones git does not ignore, so uncommitted work is
tested too. Each mutant rebuilds zkmeter-circuits: point CARGO_TARGET_DIR at a target
directory that already holds the dependencies (not the one you build in: the script
holds its lock), and set CARGO_PROFILE_TEST_OPT_LEVEL=1 to build the crate itself
faster (the dependencies stay optimised):

    CARGO_TARGET_DIR=/tmp/mutants-target CARGO_PROFILE_TEST_OPT_LEVEL=1 python3 circuits/scripts/mutate.py --circuit all

About a minute per mutant on two quiet cores. Exit status 1 if any mutant survived.
"""
import argparse, os, re, shutil, subprocess, sys, tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
METER_TESTS = ['meter_rules', 'prove_and_keys']
METER_SKIP = ['constraints_per_record_are_pinned']
WORKLOAD_TESTS = ['workload_rules']
WORKLOAD_SKIP = ['constraint_counts_are_exact_and_pinned']
TARGETS = {
    'meter': [
        dict(path='circuits/src/meter_circuit.rs', start='fn generate_constraints', tests=METER_TESTS, skip=METER_SKIP),
    ],
    'workload': [
        dict(path='circuits/src/workload/circuit.rs', start='impl ConstraintSynthesizer<Fr> for WorkloadCircuit',
             tests=WORKLOAD_TESTS, skip=WORKLOAD_SKIP),
    ],
    'gadgets': [
        dict(path='circuits/src/range_check.rs', start='pub fn alloc_boolean', until='/// Little-endian bits',
             tests=METER_TESTS + WORKLOAD_TESTS, skip=METER_SKIP + WORKLOAD_SKIP, lib=True),
        dict(path='circuits/src/poseidon.rs', start='fn permute', until='#[cfg(test)]',
             tests=METER_TESTS, skip=METER_SKIP, lib=True),
    ],
}
CALL = re.compile(r'(?<!fn )\b(enforce_\w+|alloc_bits|alloc_boolean|product)\((&?cs)\b')
NUM = 'crate::num::Num'
TRIVIAL = f'crate::num::enforce_product({{cs}}, &{NUM}::zero(), &{NUM}::zero(), &{NUM}::zero())'
# Bit positions whose booleanity the position mutants weaken alone.
POSITIONS = {'lowest': '0', 'middle': 'bits / 2', 'top': 'bits - 1'}


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


def deleted(kind, cs, args):
    """The call without its constraint."""
    if kind.startswith('enforce_'):
        # A constraint enforced on no constraint system is not enforced at all.
        return f'{kind}(&ark_relations::gr1cs::ConstraintSystemRef::None, {", ".join(args[1:])})'
    # The value the prover assigns, without the constraint that defines it.
    value = args[1] if kind in ('alloc_bits', 'alloc_boolean') else args[3]
    return f'{NUM}::witness({cs}, {value})'


def weakened(kind, cs, args):
    """The call with as many constraints, each trivially true."""
    trivial = TRIVIAL.format(cs=cs)
    if kind == 'enforce_packed':
        return f'{kind}({cs}, &{NUM}::zero(), &[])'
    if kind.startswith('enforce_'):
        return trivial
    if kind == 'alloc_bits':
        return f'(0..{args[2]}).try_for_each(|_| {trivial}).and_then(|_| {NUM}::witness({cs}, {args[1]}))'
    value = args[1] if kind == 'alloc_boolean' else args[3]
    return f'{trivial}.and_then(|_| {NUM}::witness({cs}, {value}))'


def mutants(line, match, in_bit_loop, kinds):
    """(label, mutated line) for each mutant of the call `match` on `line`."""
    kind, cs = match.group(1), match.group(2)
    parsed = arguments(line, match.end(1))
    if not parsed:
        return None
    args, end = parsed
    original = line[match.start():end]
    out = []
    if 'delete' in kinds:
        out.append(('deleted', deleted(kind, cs, args)))
    if 'weaken' in kinds:
        out.append(('weakened', weakened(kind, cs, args)))
        if in_bit_loop and kind == 'alloc_boolean':
            for name, position in POSITIONS.items():
                out.append((f'weakened at the {name} bit',
                            f'(if i == {position} {{ {weakened(kind, cs, args)} }} else {{ {original} }})'))
    return [(label, line[:match.start()] + text + line[end:]) for label, text in out]


def region(source, target):
    """First and last line index (exclusive) of the part of the file to mutate."""
    lines = source.split('\n')
    start = source.index(target['start'])
    first = source[:start].count('\n')
    if 'until' in target:
        last = source[:source.index(target['until'], start)].count('\n')
    else:
        last = len(lines)
    return first, last


def run_tests(copy, target):
    command = ['cargo', 'test', '-q', '-p', 'zkmeter-circuits']
    if target.get('lib'):
        command.append('--lib')
    for t in target['tests']:
        command += ['--test', t]
    command.append('--')
    for s in target['skip']:
        command += ['--skip', s]
    run = subprocess.run(command, cwd=copy, capture_output=True, text=True)
    failed = re.findall(r'^    (\w+(?:::\w+)*)$', run.stdout, re.M)
    if 'error[' in run.stderr and not failed:
        return 'does not compile', False
    if run.returncode != 0:
        return 'caught by ' + ', '.join(failed[:4]) + (' …' if len(failed) > 4 else ''), False
    return 'SURVIVED', True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--circuit', choices=sorted(TARGETS) + ['all'], default='meter')
    parser.add_argument('--kind', choices=['delete', 'weaken', 'both'], default='both')
    parser.add_argument('--keep', help='copy the repository here and keep it (reuses its build)')
    args = parser.parse_args()
    kinds = ['delete', 'weaken'] if args.kind == 'both' else [args.kind]
    targets = [t for name in (sorted(TARGETS) if args.circuit == 'all' else [args.circuit]) for t in TARGETS[name]]
    copy = args.keep or tempfile.mkdtemp(prefix='zkmeter-mutants-')
    files = subprocess.run(['git', 'ls-files', '--cached', '--others', '--exclude-standard'],
                           cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        if not os.path.exists(os.path.join(ROOT, f)):
            continue
        os.makedirs(os.path.join(copy, os.path.dirname(f)), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, f), os.path.join(copy, f))
    survivors = total = 0
    for target in targets:
        path = os.path.join(copy, target['path'])
        source = open(path).read()
        lines = source.split('\n')
        first, last = region(source, target)
        for i in range(first, last):
            if lines[i].strip().startswith('//'):
                continue
            in_bit_loop = any(re.search(r'for i in 0\.\.bits', lines[j]) for j in range(max(first, i - 3), i))
            for m in CALL.finditer(lines[i]):
                made = mutants(lines[i], m, in_bit_loop, kinds)
                if not made:
                    print(f'{target["path"]}:{i + 1}: cannot mutate {lines[i].strip()}')
                    continue
                for label, mutated in made:
                    open(path, 'w').write('\n'.join(lines[:i] + [mutated] + lines[i + 1:]))
                    verdict, survived = run_tests(copy, target)
                    total += 1
                    survivors += survived
                    print(f'{target["path"]}:{i + 1}: {m.group(1)} {label}: {verdict}', flush=True)
        open(path, 'w').write(source)
    print(f'{total} mutants, {survivors} survived')
    if not args.keep:
        shutil.rmtree(copy)
    sys.exit(1 if survivors else 0)


if __name__ == '__main__':
    main()
