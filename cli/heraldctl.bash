# bash completion for heraldctl (installed as
# share/bash-completion/completions/heraldctl).
_heraldctl()
{
	local cur prev words cword
	_init_completion 2>/dev/null || {
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD - 1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	}
	local commands="status nodes contexts clients drain stats config sub pub"
	local global="--socket --remote --key-file --config --json --help"

	case $prev in
	--socket | --config | --key-file | --publish-key)
		_filedir 2>/dev/null || COMPREPLY=($(compgen -f -- "$cur"))
		return ;;
	--policy)
		COMPREPLY=($(compgen -W "replace none merge:add merge:max merge:min" -- "$cur"))
		return ;;
	--node | --seeds | --count | --timeout | --context | --remote)
		return ;;
	esac

	# the command is the first word that is not an option or an option's argument
	local cmd="" sub="" i
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		--socket | --config | --remote | --key-file) ((i++)) ;;
		-*) ;;
		*) if [ -z "$cmd" ]; then cmd=${words[i]}; elif [ -z "$sub" ]; then sub=${words[i]}; fi ;;
		esac
	done

	case $cmd in
	"") COMPREPLY=($(compgen -W "$commands $global" -- "$cur")) ;;
	contexts)
		if [ -z "$sub" ]; then
			COMPREPLY=($(compgen -W "list show create set-policy evict" -- "$cur"))
		elif [ "$sub" = set-policy ] && [ "${words[cword - 2]}" = set-policy ]; then
			COMPREPLY=($(compgen -W "replace none merge:add merge:max merge:min" -- "$cur"))
		elif [ "$sub" = create ]; then
			COMPREPLY=($(compgen -W "--policy --json --help" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "--json --help" -- "$cur"))
		fi ;;
	clients)
		if [ -z "$sub" ]; then
			COMPREPLY=($(compgen -W "list show kick" -- "$cur"))
		elif [ "$sub" = list ]; then
			COMPREPLY=($(compgen -W "--context --json --help" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "--json --help" -- "$cur"))
		fi ;;
	drain)
		[ -n "$sub" ] && COMPREPLY=($(compgen -W "--undo --json --help" -- "$cur")) ;;
	config)
		if [ -z "$sub" ]; then
			COMPREPLY=($(compgen -W "show check dataplane-args reload" -- "$cur"))
		elif [ "$sub" = reload ]; then
			COMPREPLY=($(compgen -W "--json --help" -- "$cur"))
		else
			_filedir conf 2>/dev/null || COMPREPLY=($(compgen -f -- "$cur"))
		fi ;;
	stats) COMPREPLY=($(compgen -W "--nonzero --json --help" -- "$cur")) ;;
	sub) COMPREPLY=($(compgen -W "--node --seeds --count --timeout --ordered --json --help" -- "$cur")) ;;
	pub) COMPREPLY=($(compgen -W "--node --publish-key --json --help" -- "$cur")) ;;
	*) COMPREPLY=($(compgen -W "--json --help" -- "$cur")) ;;
	esac
}
complete -F _heraldctl heraldctl
