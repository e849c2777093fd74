#!/bin/bash

__amq_cursor_index_in_current_word() {
    local remaining="${COMP_LINE}"

    local word
    for word in "${COMP_WORDS[@]::COMP_CWORD}"; do
        remaining="${remaining##*([[:space:]])"${word}"*([[:space:]])}"
    done

    local -ir index="$((COMP_POINT - ${#COMP_LINE} + ${#remaining}))"
    if [[ "${index}" -le 0 ]]; then
        printf 0
    else
        printf %s "${index}"
    fi
}

# positional arguments:
#
# - 1: the current (sub)command's count of positional arguments
#
# required variables:
#
# - repeating_flags: the repeating flags that the current (sub)command can accept
# - non_repeating_flags: the non-repeating flags that the current (sub)command can accept
# - repeating_options: the repeating options that the current (sub)command can accept
# - non_repeating_options: the non-repeating options that the current (sub)command can accept
# - positional_number: value ignored
# - unparsed_words: unparsed words from the current command line
#
# modified variables:
#
# - non_repeating_flags: remove flags for this (sub)command that are already on the command line
# - non_repeating_options: remove options for this (sub)command that are already on the command line
# - positional_number: set to the current positional number
# - unparsed_words: remove all flags, options, and option values for this (sub)command
__amq_offer_flags_options() {
    local -ir positional_count="${1}"
    positional_number=0

    local was_flag_option_terminator_seen=false
    local is_parsing_option_value=false

    local -ar unparsed_word_indices=("${!unparsed_words[@]}")
    local -i word_index
    for word_index in "${unparsed_word_indices[@]}"; do
        if "${is_parsing_option_value}"; then
            # This word is an option value:
            # Reset marker for next word iff not currently the last word
            [[ "${word_index}" -ne "${unparsed_word_indices[${#unparsed_word_indices[@]} - 1]}" ]] && is_parsing_option_value=false
            unset "unparsed_words[${word_index}]"
            # Do not process this word as a flag or an option
            continue
        fi

        local word="${unparsed_words["${word_index}"]}"
        if ! "${was_flag_option_terminator_seen}"; then
            case "${word}" in
            --)
                unset "unparsed_words[${word_index}]"
                # by itself -- is a flag/option terminator, but if it is the last word, it is the start of a completion
                if [[ "${word_index}" -ne "${unparsed_word_indices[${#unparsed_word_indices[@]} - 1]}" ]]; then
                    was_flag_option_terminator_seen=true
                fi
                continue
                ;;
            -*)
                # ${word} is a flag or an option
                # If ${word} is an option, mark that the next word to be parsed is an option value
                local option
                for option in "${repeating_options[@]}" "${non_repeating_options[@]}"; do
                    [[ "${word}" = "${option}" ]] && is_parsing_option_value=true && break
                done

                # Remove ${word} from ${non_repeating_flags} or ${non_repeating_options} so it isn't offered again
                local not_found=true
                local -i index
                for index in "${!non_repeating_flags[@]}"; do
                    if [[ "${non_repeating_flags[${index}]}" = "${word}" ]]; then
                        unset "non_repeating_flags[${index}]"
                        non_repeating_flags=("${non_repeating_flags[@]}")
                        not_found=false
                        break
                    fi
                done
                if "${not_found}"; then
                    for index in "${!non_repeating_flags[@]}"; do
                        if [[ "${non_repeating_flags[${index}]}" = "${word}" ]]; then
                            unset "non_repeating_flags[${index}]"
                            non_repeating_flags=("${non_repeating_flags[@]}")
                            break
                        fi
                    done
                fi
                unset "unparsed_words[${word_index}]"
                continue
                ;;
            esac
        fi

        # ${word} is neither a flag, nor an option, nor an option value
        if [[ "${positional_number}" -lt "${positional_count}" || "${positional_count}" -lt 0 ]]; then
            # ${word} is a positional
            ((positional_number++))
            unset "unparsed_words[${word_index}]"
        else
            if [[ -z "${word}" ]]; then
                # Could be completing a flag, option, or subcommand
                positional_number=-1
            else
                # ${word} is a subcommand or invalid, so stop processing this (sub)command
                positional_number=-2
            fi
            break
        fi
    done

    unparsed_words=("${unparsed_words[@]}")

    if\
        ! "${was_flag_option_terminator_seen}"\
        && ! "${is_parsing_option_value}"\
        && [[ ("${cur}" = -* && "${positional_number}" -ge 0) || "${positional_number}" -eq -1 ]]
    then
        COMPREPLY+=($(compgen -W "${repeating_flags[*]} ${non_repeating_flags[*]} ${repeating_options[*]} ${non_repeating_options[*]}" -- "${cur}"))
    fi
}

__amq_add_completions() {
    local completion
    while IFS='' read -r completion; do
        COMPREPLY+=("${completion}")
    done < <(IFS=$'\n' compgen "${@}" -- "${cur}")
}

__amq_custom_complete() {
    if [[ -n "${cur}" || -z ${COMP_WORDS[${COMP_CWORD}]} || "${COMP_LINE:${COMP_POINT}:1}" != ' ' ]]; then
        local -ar words=("${COMP_WORDS[@]}")
    else
        local -ar words=("${COMP_WORDS[@]::${COMP_CWORD}}" '' "${COMP_WORDS[@]:${COMP_CWORD}}")
    fi

    "${COMP_WORDS[0]}" "${@}" "${words[@]}"
}

_amq() {
    local state
    state="$(shopt -p;shopt -po)"
    trap "${state//$'\n'/;}" RETURN
    shopt -s extglob
    set +o history +o posix

    local -xr SAP_SHELL=bash
    local -x SAP_SHELL_VERSION
    SAP_SHELL_VERSION="$(IFS='.';printf %s "${BASH_VERSINFO[*]}")"
    local -r SAP_SHELL_VERSION

    local -r cur="${2}"
    local -r prev="${3}"

    local -i positional_number
    local -a unparsed_words=("${COMP_WORDS[@]:1:${COMP_CWORD}}")

    local -a repeating_flags=()
    local -a non_repeating_flags=(--version -h --help)
    local -a repeating_options=()
    local -a non_repeating_options=()
    __amq_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    cluster|zone|node|topic|partition|audit|produce|consume|group|traffic|quickstart|controller|agent|bench|user|acl|help)
        # Offer subcommand argument completions
        "_amq_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'cluster zone node topic partition audit produce consume group traffic quickstart controller agent bench user acl help' -- "${cur}"))
        ;;
    esac
}

_amq_cluster() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=()
    __amq_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    create|list|status|describe|start|stop|delete|rebalance|set)
        # Offer subcommand argument completions
        "_amq_cluster_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'create list status describe start stop delete rebalance set' -- "${cur}"))
        ;;
    esac
}

_amq_cluster_create() {
    repeating_flags=()
    non_repeating_flags=(--local --shared-file-store --tls --sasl --version -h --help)
    repeating_options=(--zone-cidrs --setting)
    non_repeating_options=(--db --data-dir --cluster --zones --agents-per-zone --object-store)
    __amq_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    '--zones')
        return
        ;;
    '--agents-per-zone')
        return
        ;;
    '--zone-cidrs')
        return
        ;;
    '--object-store')
        return
        ;;
    '--setting')
        return
        ;;
    esac
}

_amq_cluster_list() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--db --data-dir --cluster --format)
    __amq_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    '--format')
        __amq_add_completions -W 'table'$'\n''json'
        return
        ;;
    esac
}

_amq_cluster_status() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--db --data-dir --cluster --format)
    __amq_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    '--format')
        __amq_add_completions -W 'table'$'\n''json'
        return
        ;;
    esac
}

_amq_cluster_describe() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--db --data-dir --cluster --format)
    __amq_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    '--format')
        __amq_add_completions -W 'table'$'\n''json'
        return
        ;;
    esac
}

_amq_cluster_start() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--db --data-dir --cluster)
    __amq_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    esac
}

_amq_cluster_stop() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--db --data-dir --cluster --timeout)
    __amq_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    '--timeout')
        return
        ;;
    esac
}

_amq_cluster_delete() {
    repeating_flags=()
    non_repeating_flags=(--keep-files --version -h --help)
    repeating_options=()
    non_repeating_options=(--db --data-dir --cluster)
    __amq_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    esac
}

_amq_cluster_rebalance() {
    repeating_flags=()
    non_repeating_flags=(--dry-run --version -h --help)
    repeating_options=()
    non_repeating_options=(--db --data-dir --cluster --format)
    __amq_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    '--format')
        __amq_add_completions -W 'table'$'\n''json'
        return
        ;;
    esac
}

_amq_cluster_set() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--db --data-dir --cluster)
    __amq_offer_flags_options -1

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    esac
}

_amq_zone() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=()
    __amq_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    list|set-cidrs)
        # Offer subcommand argument completions
        "_amq_zone_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'list set-cidrs' -- "${cur}"))
        ;;
    esac
}

_amq_zone_list() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--db --data-dir --cluster --format)
    __amq_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    '--format')
        __amq_add_completions -W 'table'$'\n''json'
        return
        ;;
    esac
}

_amq_zone_set-cidrs() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--db --data-dir --cluster)
    __amq_offer_flags_options 2

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    esac
}

_amq_node() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=()
    __amq_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    list|add|drain|activate|remove)
        # Offer subcommand argument completions
        "_amq_node_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'list add drain activate remove' -- "${cur}"))
        ;;
    esac
}

_amq_node_list() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--db --data-dir --cluster --format)
    __amq_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    '--format')
        __amq_add_completions -W 'table'$'\n''json'
        return
        ;;
    esac
}

_amq_node_add() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--db --data-dir --cluster --zone --id)
    __amq_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    '--zone')
        return
        ;;
    '--id')
        return
        ;;
    esac
}

_amq_node_drain() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--db --data-dir --cluster)
    __amq_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    esac
}

_amq_node_activate() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--db --data-dir --cluster)
    __amq_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    esac
}

_amq_node_remove() {
    repeating_flags=()
    non_repeating_flags=(--force --version -h --help)
    repeating_options=()
    non_repeating_options=(--db --data-dir --cluster)
    __amq_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    esac
}

_amq_topic() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=()
    __amq_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    create|list|describe|alter|delete|route-enable|route-disable)
        # Offer subcommand argument completions
        "_amq_topic_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'create list describe alter delete route-enable route-disable' -- "${cur}"))
        ;;
    esac
}

_amq_topic_create() {
    repeating_flags=()
    non_repeating_flags=(--route-enabled --version -h --help)
    repeating_options=(--config)
    non_repeating_options=(--db --data-dir --cluster --format --partitions)
    __amq_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    '--format')
        __amq_add_completions -W 'table'$'\n''json'
        return
        ;;
    '--partitions')
        return
        ;;
    '--config')
        return
        ;;
    esac
}

_amq_topic_list() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--db --data-dir --cluster --format)
    __amq_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    '--format')
        __amq_add_completions -W 'table'$'\n''json'
        return
        ;;
    esac
}

_amq_topic_describe() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--db --data-dir --cluster --format)
    __amq_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    '--format')
        __amq_add_completions -W 'table'$'\n''json'
        return
        ;;
    esac
}

_amq_topic_alter() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=(--config --delete-config)
    non_repeating_options=(--db --data-dir --cluster --format --partitions)
    __amq_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    '--format')
        __amq_add_completions -W 'table'$'\n''json'
        return
        ;;
    '--config')
        return
        ;;
    '--delete-config')
        return
        ;;
    '--partitions')
        return
        ;;
    esac
}

_amq_topic_delete() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--db --data-dir --cluster)
    __amq_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    esac
}

_amq_topic_route-enable() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--db --data-dir --cluster)
    __amq_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    esac
}

_amq_topic_route-disable() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--db --data-dir --cluster)
    __amq_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    esac
}

_amq_partition() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=()
    __amq_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    list)
        # Offer subcommand argument completions
        "_amq_partition_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'list' -- "${cur}"))
        ;;
    esac
}

_amq_partition_list() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--db --data-dir --cluster --format --topic)
    __amq_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    '--format')
        __amq_add_completions -W 'table'$'\n''json'
        return
        ;;
    '--topic')
        return
        ;;
    esac
}

_amq_audit() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--db --data-dir --cluster --format --limit)
    __amq_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    '--format')
        __amq_add_completions -W 'table'$'\n''json'
        return
        ;;
    '--limit')
        return
        ;;
    esac
}

_amq_produce() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--db --data-dir --cluster --bootstrap --request-timeout --log-level --tls-ca --sasl-mechanism --sasl-user --sasl-password-file --key-separator --partition --acks --batch-size)
    __amq_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    '--bootstrap')
        return
        ;;
    '--request-timeout')
        return
        ;;
    '--log-level')
        __amq_add_completions -W 'trace'$'\n''debug'$'\n''info'$'\n''notice'$'\n''warning'$'\n''error'$'\n''critical'
        return
        ;;
    '--tls-ca')
        return
        ;;
    '--sasl-mechanism')
        return
        ;;
    '--sasl-user')
        return
        ;;
    '--sasl-password-file')
        return
        ;;
    '--key-separator')
        return
        ;;
    '--partition')
        return
        ;;
    '--acks')
        return
        ;;
    '--batch-size')
        return
        ;;
    esac
}

_amq_consume() {
    repeating_flags=()
    non_repeating_flags=(--from-beginning --print-keys --version -h --help)
    repeating_options=()
    non_repeating_options=(--db --data-dir --cluster --bootstrap --request-timeout --log-level --tls-ca --sasl-mechanism --sasl-user --sasl-password-file --group --count --partition --timeout --format)
    __amq_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    '--bootstrap')
        return
        ;;
    '--request-timeout')
        return
        ;;
    '--log-level')
        __amq_add_completions -W 'trace'$'\n''debug'$'\n''info'$'\n''notice'$'\n''warning'$'\n''error'$'\n''critical'
        return
        ;;
    '--tls-ca')
        return
        ;;
    '--sasl-mechanism')
        return
        ;;
    '--sasl-user')
        return
        ;;
    '--sasl-password-file')
        return
        ;;
    '--group')
        return
        ;;
    '--count')
        return
        ;;
    '--partition')
        return
        ;;
    '--timeout')
        return
        ;;
    '--format')
        __amq_add_completions -W 'text'$'\n''json'
        return
        ;;
    esac
}

_amq_group() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=()
    __amq_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    list|describe|reset-offsets)
        # Offer subcommand argument completions
        "_amq_group_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'list describe reset-offsets' -- "${cur}"))
        ;;
    esac
}

_amq_group_list() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--db --data-dir --cluster --bootstrap --request-timeout --log-level --tls-ca --sasl-mechanism --sasl-user --sasl-password-file --format)
    __amq_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    '--bootstrap')
        return
        ;;
    '--request-timeout')
        return
        ;;
    '--log-level')
        __amq_add_completions -W 'trace'$'\n''debug'$'\n''info'$'\n''notice'$'\n''warning'$'\n''error'$'\n''critical'
        return
        ;;
    '--tls-ca')
        return
        ;;
    '--sasl-mechanism')
        return
        ;;
    '--sasl-user')
        return
        ;;
    '--sasl-password-file')
        return
        ;;
    '--format')
        __amq_add_completions -W 'table'$'\n''json'
        return
        ;;
    esac
}

_amq_group_describe() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--db --data-dir --cluster --bootstrap --request-timeout --log-level --tls-ca --sasl-mechanism --sasl-user --sasl-password-file --format)
    __amq_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    '--bootstrap')
        return
        ;;
    '--request-timeout')
        return
        ;;
    '--log-level')
        __amq_add_completions -W 'trace'$'\n''debug'$'\n''info'$'\n''notice'$'\n''warning'$'\n''error'$'\n''critical'
        return
        ;;
    '--tls-ca')
        return
        ;;
    '--sasl-mechanism')
        return
        ;;
    '--sasl-user')
        return
        ;;
    '--sasl-password-file')
        return
        ;;
    '--format')
        __amq_add_completions -W 'table'$'\n''json'
        return
        ;;
    esac
}

_amq_group_reset-offsets() {
    repeating_flags=()
    non_repeating_flags=(--to-earliest --to-latest --execute --version -h --help)
    repeating_options=()
    non_repeating_options=(--db --data-dir --cluster --bootstrap --request-timeout --log-level --tls-ca --sasl-mechanism --sasl-user --sasl-password-file --format --topic --to-offset)
    __amq_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    '--bootstrap')
        return
        ;;
    '--request-timeout')
        return
        ;;
    '--log-level')
        __amq_add_completions -W 'trace'$'\n''debug'$'\n''info'$'\n''notice'$'\n''warning'$'\n''error'$'\n''critical'
        return
        ;;
    '--tls-ca')
        return
        ;;
    '--sasl-mechanism')
        return
        ;;
    '--sasl-user')
        return
        ;;
    '--sasl-password-file')
        return
        ;;
    '--format')
        __amq_add_completions -W 'table'$'\n''json'
        return
        ;;
    '--topic')
        return
        ;;
    '--to-offset')
        return
        ;;
    esac
}

_amq_traffic() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=()
    __amq_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    report|advise)
        # Offer subcommand argument completions
        "_amq_traffic_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'report advise' -- "${cur}"))
        ;;
    esac
}

_amq_traffic_report() {
    repeating_flags=()
    non_repeating_flags=(--chart --version -h --help)
    repeating_options=()
    non_repeating_options=(--db --data-dir --cluster --since --until --wait --topic --zone --by --format)
    __amq_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    '--since')
        return
        ;;
    '--until')
        return
        ;;
    '--wait')
        return
        ;;
    '--topic')
        return
        ;;
    '--zone')
        return
        ;;
    '--by')
        __amq_add_completions -W 'topic'$'\n''zone-pair'$'\n''category'
        return
        ;;
    '--format')
        __amq_add_completions -W 'table'$'\n''json'$'\n''csv'
        return
        ;;
    esac
}

_amq_traffic_advise() {
    repeating_flags=()
    non_repeating_flags=(--apply --yes --version -h --help)
    repeating_options=()
    non_repeating_options=(--db --data-dir --cluster --since --until --wait --format)
    __amq_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    '--since')
        return
        ;;
    '--until')
        return
        ;;
    '--wait')
        return
        ;;
    '--format')
        __amq_add_completions -W 'table'$'\n''json'
        return
        ;;
    esac
}

_amq_quickstart() {
    repeating_flags=()
    non_repeating_flags=(--keep-running --version -h --help)
    repeating_options=()
    non_repeating_options=(--data-dir)
    __amq_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--data-dir')
        return
        ;;
    esac
}

_amq_controller() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=()
    __amq_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    run)
        # Offer subcommand argument completions
        "_amq_controller_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'run' -- "${cur}"))
        ;;
    esac
}

_amq_controller_run() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--db --data-dir --cluster --log-level --listen --secret-file --zone --tls-cert --tls-key --tls-ca --tls-client-auth)
    __amq_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    '--log-level')
        __amq_add_completions -W 'trace'$'\n''debug'$'\n''info'$'\n''notice'$'\n''warning'$'\n''error'$'\n''critical'
        return
        ;;
    '--listen')
        return
        ;;
    '--secret-file')
        return
        ;;
    '--zone')
        return
        ;;
    '--tls-cert')
        return
        ;;
    '--tls-key')
        return
        ;;
    '--tls-ca')
        return
        ;;
    '--tls-client-auth')
        __amq_add_completions -W 'none'$'\n''optional'$'\n''required'
        return
        ;;
    esac
}

_amq_agent() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=()
    __amq_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    run)
        # Offer subcommand argument completions
        "_amq_agent_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'run' -- "${cur}"))
        ;;
    esac
}

_amq_agent_run() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=(--listener)
    non_repeating_options=(--log-level --controller --zone --node-id --node-name --secret-file --host --advertised-host --kafka-port --tls-cert --tls-key --tls-ca --tls-client-auth --admin-port --rpc-port --register-timeout)
    __amq_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--log-level')
        __amq_add_completions -W 'trace'$'\n''debug'$'\n''info'$'\n''notice'$'\n''warning'$'\n''error'$'\n''critical'
        return
        ;;
    '--controller')
        return
        ;;
    '--zone')
        return
        ;;
    '--node-id')
        return
        ;;
    '--node-name')
        return
        ;;
    '--secret-file')
        return
        ;;
    '--host')
        return
        ;;
    '--advertised-host')
        return
        ;;
    '--kafka-port')
        return
        ;;
    '--listener')
        return
        ;;
    '--tls-cert')
        return
        ;;
    '--tls-key')
        return
        ;;
    '--tls-ca')
        return
        ;;
    '--tls-client-auth')
        __amq_add_completions -W 'none'$'\n''optional'$'\n''required'
        return
        ;;
    '--admin-port')
        return
        ;;
    '--rpc-port')
        return
        ;;
    '--register-timeout')
        return
        ;;
    esac
}

_amq_bench() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=()
    __amq_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    storage)
        # Offer subcommand argument completions
        "_amq_bench_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'storage' -- "${cur}"))
        ;;
    esac
}

_amq_bench_storage() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--object-store --megabytes --batch-sizes --partitions --in-flight-megabytes --linger-ms --many-objects --output)
    __amq_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--object-store')
        return
        ;;
    '--megabytes')
        return
        ;;
    '--batch-sizes')
        return
        ;;
    '--partitions')
        return
        ;;
    '--in-flight-megabytes')
        return
        ;;
    '--linger-ms')
        return
        ;;
    '--many-objects')
        return
        ;;
    '--output')
        return
        ;;
    esac
}

_amq_user() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=()
    __amq_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    create|delete|list)
        # Offer subcommand argument completions
        "_amq_user_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'create delete list' -- "${cur}"))
        ;;
    esac
}

_amq_user_create() {
    repeating_flags=()
    non_repeating_flags=(--password-stdin --replace --version -h --help)
    repeating_options=()
    non_repeating_options=(--db --data-dir --cluster --password-file --iterations)
    __amq_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    '--password-file')
        return
        ;;
    '--iterations')
        return
        ;;
    esac
}

_amq_user_delete() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--db --data-dir --cluster)
    __amq_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    esac
}

_amq_user_list() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--db --data-dir --cluster --format)
    __amq_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    '--format')
        __amq_add_completions -W 'table'$'\n''json'
        return
        ;;
    esac
}

_amq_acl() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=()
    __amq_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    add|remove|list)
        # Offer subcommand argument completions
        "_amq_acl_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'add remove list' -- "${cur}"))
        ;;
    esac
}

_amq_acl_add() {
    repeating_flags=()
    non_repeating_flags=(--cluster-resource --prefixed --deny --version -h --help)
    repeating_options=(--operation)
    non_repeating_options=(--db --data-dir --cluster --principal --topic --group --host)
    __amq_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    '--principal')
        return
        ;;
    '--operation')
        return
        ;;
    '--topic')
        return
        ;;
    '--group')
        return
        ;;
    '--host')
        return
        ;;
    esac
}

_amq_acl_remove() {
    repeating_flags=()
    non_repeating_flags=(--cluster-resource --prefixed --deny --version -h --help)
    repeating_options=(--operation)
    non_repeating_options=(--db --data-dir --cluster --principal --topic --group --host)
    __amq_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    '--principal')
        return
        ;;
    '--operation')
        return
        ;;
    '--topic')
        return
        ;;
    '--group')
        return
        ;;
    '--host')
        return
        ;;
    esac
}

_amq_acl_list() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--db --data-dir --cluster --format --principal)
    __amq_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--db')
        return
        ;;
    '--data-dir')
        return
        ;;
    '--cluster')
        return
        ;;
    '--format')
        __amq_add_completions -W 'table'$'\n''json'
        return
        ;;
    '--principal')
        return
        ;;
    esac
}

_amq_help() {
    repeating_flags=()
    non_repeating_flags=(--version)
    repeating_options=()
    non_repeating_options=()
    __amq_offer_flags_options -1
}

complete -o filenames -F _amq amq
