#!/usr/bin/env python3
"""Man pages and bash completion made from the programs' --help texts, so
that they say what the programs say (meson.build runs this at build time).

  cli-docs.py man OUT.1 PROG [COMMAND]   chaoscontrol(1), chaoscontrol-COMMAND(1)
  cli-docs.py man OUT.1 --name N --summary S PROG
                                         a man page for another program
                                         (tools/kvm-host)
  cli-docs.py completion OUT PROG        bash completion for chaoscontrol

The --help layout read here is the one every command uses: a "usage:"
block, paragraphs, and lists whose entries start at a two-space indent
("  --opt ARG   what it does", continued further in).
"""
import re
import subprocess
import sys

VERSION_RE = re.compile(r'(\d+\.\d+[\w.]*)')


def run(argv):
    p = subprocess.run(argv, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"cli-docs: {' '.join(argv)} exited {p.returncode}: {p.stderr.strip()}")
    if not p.stdout.strip():
        sys.exit(f"cli-docs: {' '.join(argv)} printed nothing on stdout")
    return p.stdout


def commands(prog):
    """The command table of `chaoscontrol --help`: [(name, summary)]."""
    out, table = run([prog, '--help']), []
    in_table = False
    for line in out.splitlines():
        if line.strip() == 'commands:':
            in_table = True
        elif in_table and line.startswith('  '):
            name, _, summary = line.strip().partition(' ')
            table.append((name, summary.strip()))
    if not table:
        sys.exit(f"cli-docs: no 'commands:' table in '{prog} --help'")
    return table


def esc(s):
    s = s.replace('\\', '\\e').replace('-', '\\-')
    if s.startswith(('.', "'")):
        s = '\\&' + s
    return s


ARG_TOKEN = re.compile(r'^[A-Z\[<{][A-Za-z0-9_.:\[\]|=<>{},/-]*$|^[a-z0-9]+(\|[a-z0-9-]+)+$')


def split_item(text):
    """'--opt ARG   description' -> ('--opt ARG', 'description')."""
    m = re.match(r'^(\S.*?)\s{2,}(\S.*)$', text)
    if m:
        return m.group(1), m.group(2)
    words = text.split(' ')
    n = 1
    while n < len(words) and ARG_TOKEN.match(words[n]):
        n += 1
    return ' '.join(words[:n]), ' '.join(words[n:])


def term_roff(term):
    words = term.split(' ')
    out = '\\fB' + esc(words[0]) + '\\fR'
    for w in words[1:]:
        out += ' \\fI' + esc(w) + '\\fR'
    return out


def body_roff(text):
    """The help text after its usage block, as man page body lines."""
    lines, item = [], None

    def flush():
        nonlocal item
        if item is not None:
            term, desc = item
            lines.extend(['.TP', term_roff(term)] + [esc(d) for d in desc if d])
            item = None

    para_open = False
    for raw in text.splitlines():
        if not raw.strip():
            flush()
            para_open = False
            continue
        indent = len(raw) - len(raw.lstrip(' '))
        s = raw.strip()
        if indent == 2:
            flush()
            term, desc = split_item(s)
            item = (term, [desc])
        elif indent > 2 and item is not None:
            item[1].append(s)
        else:
            flush()
            if not para_open:
                lines.append('.PP')
                para_open = True
            lines.append(esc(s))
    flush()
    return lines


def split_usage(help_text):
    """(synopsis lines, the rest) of a --help text."""
    blocks = help_text.split('\n\n', 1)
    first = blocks[0].splitlines()
    if not first or not first[0].startswith('usage:'):
        sys.exit(f"cli-docs: the help text does not start with 'usage:': {first[:1]}")
    syn = [first[0][len('usage:'):].strip()] + ['    ' + l.strip() for l in first[1:]]
    return syn, blocks[1] if len(blocks) > 1 else ''


def man_page(name, summary, version, help_text, see_also, extra=()):
    syn, rest = split_usage(help_text)
    out = [f'.\\" Generated from "{name} --help" by scripts/cli-docs.py; do not edit.',
           f'.TH {name.upper()} 1 "" "chaoscontrol {version}" "User Commands"',
           '.SH NAME', f'{esc(name)} \\- {esc(summary)}',
           '.SH SYNOPSIS', '.nf'] + [esc(l) for l in syn] + ['.fi', '.SH DESCRIPTION']
    out += body_roff(rest)
    out += list(extra)
    if see_also:
        out += ['.SH SEE ALSO', ',\n'.join(f'.BR {s} (1)' for s in see_also)]
    return '\n'.join(out) + '\n'


def version_of(prog):
    m = VERSION_RE.search(run([prog, '--version']))
    return m.group(1) if m else ''


def cmd_man(args):
    name = summary = None
    rest = []
    while args:
        if args[0] in ('--name', '--summary') and len(args) >= 2:
            if args[0] == '--name':
                name = args[1]
            else:
                summary = args[1]
            args = args[2:]
        else:
            rest.append(args.pop(0))
    args = rest
    if len(args) not in (2, 3):
        sys.exit(__doc__)
    out, prog = args[0], args[1]
    if name:  # another program (kvm-host): its own name and summary
        text = man_page(name, summary or name, '', run([prog, '--help']), ['chaoscontrol'])
    else:
        table = commands(prog)
        version = version_of(prog)
        if len(args) == 3:
            cmd = args[2]
            summary = dict(table).get(cmd)
            if summary is None:
                sys.exit(f"cli-docs: '{cmd}' is not in the command table of '{prog} --help'")
            text = man_page('chaoscontrol-' + cmd, summary, version, run([prog, cmd, '--help']),
                            ['chaoscontrol'])
        else:
            text = man_page('chaoscontrol', 'deterministic simulation testing on KVM', version,
                            run([prog, '--help']),
                            ['chaoscontrol-' + c for c, _ in table if c != 'version'],
                            ['.PP', 'Each command has its own page, '
                             '\\fBchaoscontrol\\-\\fICOMMAND\\fR(1), and prints it with '
                             '\\fBchaoscontrol \\fICOMMAND\\fB \\-\\-help\\fR.'])
    with open(out, 'w') as f:
        f.write(text)


OPT_RE = re.compile(r'(?<![\w-])(--[a-z][a-z0-9-]*)')


def cmd_completion(args):
    if len(args) != 2:
        sys.exit(__doc__)
    out, prog = args
    table = commands(prog)
    names = [c for c, _ in table]
    cases = []
    for cmd in names:
        if cmd == 'version':
            continue
        text = run([prog, cmd, '--help'])
        # the options of the usage block and of the option lists (not
        # those the prose mentions, as "boot --dlog F" in dlog's)
        usage = text.split('\n\n', 1)[0]
        listed = re.findall(r'^  (--[a-z][a-z0-9-]*)', text, re.M)
        opts = sorted(set(OPT_RE.findall(usage)) | set(listed) | {'--help'})
        # second words: "chaoscontrol snapshot save ...", "explore run ..."
        subs = []
        for w in re.findall(r'chaoscontrol ' + re.escape(cmd) + r' ([a-z][a-z0-9-]*)\b', text):
            if w not in subs:
                subs.append(w)
        cases.append(f"        {cmd}) opts='{' '.join(opts)}'; subs='{' '.join(subs)}' ;;")
    text = f'''# bash completion for chaoscontrol: its commands, each command's options
# and second words (snapshot save, explore run, ...), else file names.
# Generated from the --help texts by scripts/cli-docs.py; do not edit.
_chaoscontrol()
{{
    local cur=${{COMP_WORDS[COMP_CWORD]}} opts subs
    COMPREPLY=()
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W '{' '.join(names)} help --help --version' -- "$cur"))
        return 0
    fi
    case ${{COMP_WORDS[1]}} in
{chr(10).join(cases)}
        *) return 0 ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    elif [ "$COMP_CWORD" -eq 2 ] && [ -n "$subs" ]; then
        COMPREPLY=($(compgen -W "$subs" -- "$cur"))
    else
        compopt -o filenames 2>/dev/null
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
    return 0
}}
complete -F _chaoscontrol chaoscontrol
'''
    with open(out, 'w') as f:
        f.write(text)


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ('man', 'completion'):
        sys.exit(__doc__)
    (cmd_man if sys.argv[1] == 'man' else cmd_completion)(sys.argv[2:])


if __name__ == '__main__':
    main()
