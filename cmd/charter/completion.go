package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

func init() {
	register("completion", "print a shell completion script: completion bash|zsh|fish", completionCmd{})
}

type completionCmd struct{}

// compNode is one command or subcommand as completion sees it.
type compNode struct {
	name, summary string
	subs          []compNode // a group's subcommands
	flags         []string   // flag names, without dashes
}

// completionTree is the command table, read from the commands themselves:
// a new command or flag completes without editing this file.
func completionTree() []compNode {
	var out []compNode
	sorted := append([]commandInfo{}, commands...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	for _, c := range sorted {
		n := compNode{name: c.name, summary: c.summary}
		if s, ok := c.cmd.(subcommands); ok {
			names := make([]string, 0, len(s))
			for k := range s {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				n.subs = append(n.subs, compNode{name: k, summary: docs[c.name+" "+k].summary, flags: flagNames(flagSetOf(s[k]))})
			}
		} else {
			n.flags = flagNames(flagSetOf(c.cmd))
		}
		out = append(out, n)
	}
	return out
}

func flagNames(fs *flag.FlagSet) []string {
	var out []string
	if fs != nil {
		fs.VisitAll(func(f *flag.Flag) { out = append(out, f.Name) })
	}
	return out
}

func dashed(names []string) string {
	var out []string
	for _, n := range names {
		if len(n) == 1 {
			out = append(out, "-"+n)
		} else {
			out = append(out, "--"+n)
		}
	}
	return strings.Join(out, " ")
}

func (completionCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("completion", flag.ContinueOnError)
	env.globalFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("completion takes one shell: bash, zsh or fish\nhint: source <(charter completion bash), or see `charter completion -h`")
	}
	tree := completionTree()
	switch pos[0] {
	case "bash":
		writeBash(env.Stdout, tree)
	case "zsh":
		writeZsh(env.Stdout, tree)
	case "fish":
		writeFish(env.Stdout, tree)
	default:
		return fmt.Errorf("no completion for shell %q\nhint: charter completes in bash, zsh and fish", pos[0])
	}
	return nil
}

func topNames(tree []compNode) string {
	var n []string
	for _, c := range tree {
		n = append(n, c.name)
	}
	return strings.Join(append(n, "help"), " ")
}

// writeBash writes a bash completion function: commands, then a group's
// subcommands, then the flags of the command in front, else file names.
func writeBash(w io.Writer, tree []compNode) {
	fmt.Fprintf(w, `# bash completion for charter; load with: source <(charter completion bash)
_charter() {
    local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]} sub=${COMP_WORDS[2]}
    if [[ $COMP_CWORD -eq 1 ]]; then
        COMPREPLY=($(compgen -W "%s" -- "$cur"))
        return
    fi
    local words=""
    case "$cmd" in
`, topNames(tree))
	for _, c := range tree {
		if c.subs == nil {
			fmt.Fprintf(w, "    %s) words=\"%s\" ;;\n", c.name, dashed(c.flags))
			continue
		}
		var subs []string
		for _, s := range c.subs {
			subs = append(subs, s.name)
		}
		fmt.Fprintf(w, "    %s)\n        if [[ $COMP_CWORD -eq 2 ]]; then COMPREPLY=($(compgen -W \"%s\" -- \"$cur\")); return; fi\n        case \"$sub\" in\n", c.name, strings.Join(subs, " "))
		for _, s := range c.subs {
			fmt.Fprintf(w, "        %s) words=\"%s\" ;;\n", s.name, dashed(s.flags))
		}
		fmt.Fprintf(w, "        esac ;;\n")
	}
	fmt.Fprintf(w, `    help) COMPREPLY=($(compgen -W "%s" -- "$cur")); return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$words" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}
complete -o default -F _charter charter
`, topNames(tree))
}

// writeZsh writes a zsh completion function with the same structure and
// the commands' summaries as descriptions.
func writeZsh(w io.Writer, tree []compNode) {
	q := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "'", "'\\''"), ":", "\\:") }
	fmt.Fprintln(w, "#compdef charter\n# zsh completion for charter; load with: source <(charter completion zsh)\n_charter() {\n    local -a cmds subs flags")
	fmt.Fprint(w, "    cmds=(")
	for _, c := range tree {
		fmt.Fprintf(w, " '%s:%s'", c.name, q(c.summary))
	}
	fmt.Fprintln(w, " 'help:print a command'\\''s help')")
	fmt.Fprintln(w, "    if (( CURRENT == 2 )); then _describe 'command' cmds; return; fi\n    case $words[2] in")
	for _, c := range tree {
		if c.subs == nil {
			fmt.Fprintf(w, "    %s) flags=(%s) ;;\n", c.name, dashed(c.flags))
			continue
		}
		fmt.Fprintf(w, "    %s)\n        subs=(", c.name)
		for _, s := range c.subs {
			fmt.Fprintf(w, " '%s:%s'", s.name, q(s.summary))
		}
		fmt.Fprintf(w, ")\n        if (( CURRENT == 3 )); then _describe 'subcommand' subs; return; fi\n        case $words[3] in\n")
		for _, s := range c.subs {
			fmt.Fprintf(w, "        %s) flags=(%s) ;;\n", s.name, dashed(s.flags))
		}
		fmt.Fprintln(w, "        esac ;;")
	}
	fmt.Fprintln(w, "    help) _describe 'command' cmds; return ;;\n    esac\n    if [[ $PREFIX == -* ]]; then compadd -a flags; else _files; fi\n}\nif [[ $zsh_eval_context[-1] == loadautofunc ]]; then _charter \"$@\"; else compdef _charter charter; fi")
}

// writeFish writes fish completions: one `complete` line per command,
// subcommand and flag.
func writeFish(w io.Writer, tree []compNode) {
	q := func(s string) string {
		return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
	}
	fmt.Fprintln(w, "# fish completion for charter; load with: charter completion fish | source")
	fmt.Fprintln(w, "complete -c charter -f")
	var top []string
	for _, c := range tree {
		top = append(top, c.name)
	}
	fmt.Fprintf(w, "complete -c charter -n 'not __fish_seen_subcommand_from %s help' -a help -d 'print a command'\\''s help'\n", strings.Join(top, " "))
	for _, c := range tree {
		fmt.Fprintf(w, "complete -c charter -n 'not __fish_seen_subcommand_from %s help' -a %s -d %s\n", strings.Join(top, " "), c.name, q(c.summary))
		flagLine := func(cond string, flags []string) {
			for _, f := range flags {
				opt := "-l " + f
				if len(f) == 1 {
					opt = "-o " + f
				}
				fmt.Fprintf(w, "complete -c charter -n %s %s -F\n", q(cond), opt)
			}
		}
		if c.subs == nil {
			flagLine("__fish_seen_subcommand_from "+c.name, c.flags)
			continue
		}
		var subs []string
		for _, s := range c.subs {
			subs = append(subs, s.name)
		}
		for _, s := range c.subs {
			fmt.Fprintf(w, "complete -c charter -n %s -a %s -d %s\n", q("__fish_seen_subcommand_from "+c.name+"; and not __fish_seen_subcommand_from "+strings.Join(subs, " ")), s.name, q(s.summary))
			flagLine("__fish_seen_subcommand_from "+c.name+"; and __fish_seen_subcommand_from "+s.name, s.flags)
		}
	}
	fmt.Fprintf(w, "complete -c charter -n '__fish_seen_subcommand_from help' -a %q\n", strings.Join(top, " "))
}
