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
	local commands="status nodes contexts stats config sub pub"
	local global="--socket --config --json --help"

	case $prev in
	--socket | --config | --publish-key)
		_filedir 2>/dev/null || COMPREPLY=($(compgen -f -- "$cur"))
		return ;;
	--policy)
		COMPREPLY=($(compgen -W "replace none merge:add merge:max merge:min" -- "$cur"))
		return ;;
	--node | --count | --timeout)
		return ;;
	esac

	# the command is the first word that is not an option or an option's argument
	local cmd="" sub="" i
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		--socket | --config) ((i++)) ;;
		-*) ;;
		*) if [ -z "$cmd" ]; then cmd=${words[i]}; elif [ -z "$sub" ]; then sub=${words[i]}; fi ;;
		esac
	done

	case $cmd in
	"") COMPREPLY=($(compgen -W "$commands $global" -- "$cur")) ;;
	contexts)
		if [ -z "$sub" ]; then
			COMPREPLY=($(compgen -W "list show create evict" -- "$cur"))
		elif [ "$sub" = create ]; then
			COMPREPLY=($(compgen -W "--policy --json --help" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "--json --help" -- "$cur"))
		fi ;;
	config)
		if [ -z "$sub" ]; then
			COMPREPLY=($(compgen -W "show check dataplane-args" -- "$cur"))
		else
			_filedir conf 2>/dev/null || COMPREPLY=($(compgen -f -- "$cur"))
		fi ;;
	stats) COMPREPLY=($(compgen -W "--nonzero --json --help" -- "$cur")) ;;
	sub) COMPREPLY=($(compgen -W "--node --count --timeout --ordered --json --help" -- "$cur")) ;;
	pub) COMPREPLY=($(compgen -W "--node --publish-key --json --help" -- "$cur")) ;;
	*) COMPREPLY=($(compgen -W "--json --help" -- "$cur")) ;;
	esac
}
complete -F _heraldctl heraldctl
