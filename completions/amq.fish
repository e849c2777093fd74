function __amq_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __amq_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __amq_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __amq_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __amq_parse_tokens -S
    set -l unparsed_tokens (__amq_tokens -pc)
    switch $unparsed_tokens[1]
    case 'amq'
        __amq_parse_subcommand 0 'version' 'h/help'
        switch $unparsed_tokens[1]
        case 'cluster'
            __amq_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'create'
                __amq_parse_subcommand 1 'db=' 'data-dir=' 'cluster=' 'zones=' 'agents-per-zone=' 'object-store=' 'setting=+' 'local' 'version' 'h/help'
            case 'list'
                __amq_parse_subcommand 0 'db=' 'data-dir=' 'cluster=' 'format=' 'version' 'h/help'
            case 'status'
                __amq_parse_subcommand 1 'db=' 'data-dir=' 'cluster=' 'format=' 'version' 'h/help'
            case 'describe'
                __amq_parse_subcommand 1 'db=' 'data-dir=' 'cluster=' 'format=' 'version' 'h/help'
            case 'start'
                __amq_parse_subcommand 1 'db=' 'data-dir=' 'cluster=' 'version' 'h/help'
            case 'stop'
                __amq_parse_subcommand 1 'db=' 'data-dir=' 'cluster=' 'timeout=' 'version' 'h/help'
            case 'delete'
                __amq_parse_subcommand 1 'db=' 'data-dir=' 'cluster=' 'keep-files' 'version' 'h/help'
            case 'rebalance'
                __amq_parse_subcommand 0 'db=' 'data-dir=' 'cluster=' 'format=' 'dry-run' 'version' 'h/help'
            case 'set'
                __amq_parse_subcommand -r 1 'db=' 'data-dir=' 'cluster=' 'version' 'h/help'
            end
        case 'node'
            __amq_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'list'
                __amq_parse_subcommand 0 'db=' 'data-dir=' 'cluster=' 'format=' 'version' 'h/help'
            case 'add'
                __amq_parse_subcommand 0 'db=' 'data-dir=' 'cluster=' 'zone=' 'id=' 'version' 'h/help'
            case 'drain'
                __amq_parse_subcommand 1 'db=' 'data-dir=' 'cluster=' 'version' 'h/help'
            case 'activate'
                __amq_parse_subcommand 1 'db=' 'data-dir=' 'cluster=' 'version' 'h/help'
            case 'remove'
                __amq_parse_subcommand 1 'db=' 'data-dir=' 'cluster=' 'force' 'version' 'h/help'
            end
        case 'topic'
            __amq_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'create'
                __amq_parse_subcommand 1 'db=' 'data-dir=' 'cluster=' 'format=' 'partitions=' 'config=+' 'route-enabled' 'version' 'h/help'
            case 'list'
                __amq_parse_subcommand 0 'db=' 'data-dir=' 'cluster=' 'format=' 'version' 'h/help'
            case 'describe'
                __amq_parse_subcommand 1 'db=' 'data-dir=' 'cluster=' 'format=' 'version' 'h/help'
            case 'alter'
                __amq_parse_subcommand 1 'db=' 'data-dir=' 'cluster=' 'format=' 'config=+' 'delete-config=+' 'partitions=' 'version' 'h/help'
            case 'delete'
                __amq_parse_subcommand 1 'db=' 'data-dir=' 'cluster=' 'version' 'h/help'
            case 'route-enable'
                __amq_parse_subcommand 1 'db=' 'data-dir=' 'cluster=' 'version' 'h/help'
            case 'route-disable'
                __amq_parse_subcommand 1 'db=' 'data-dir=' 'cluster=' 'version' 'h/help'
            end
        case 'partition'
            __amq_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'list'
                __amq_parse_subcommand 0 'db=' 'data-dir=' 'cluster=' 'format=' 'topic=' 'version' 'h/help'
            end
        case 'audit'
            __amq_parse_subcommand 0 'db=' 'data-dir=' 'cluster=' 'format=' 'limit=' 'version' 'h/help'
        case 'controller'
            __amq_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'run'
                __amq_parse_subcommand 0 'db=' 'data-dir=' 'cluster=' 'log-level=' 'listen=' 'secret-file=' 'version' 'h/help'
            end
        case 'agent'
            __amq_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'run'
                __amq_parse_subcommand 0 'log-level=' 'controller=' 'zone=' 'node-id=' 'node-name=' 'secret-file=' 'host=' 'advertised-host=' 'kafka-port=' 'admin-port=' 'register-timeout=' 'version' 'h/help'
            end
        case 'bench'
            __amq_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'storage'
                __amq_parse_subcommand 0 'object-store=' 'megabytes=' 'batch-sizes=' 'partitions=' 'in-flight-megabytes=' 'linger-ms=' 'many-objects=' 'output=' 'version' 'h/help'
            end
        case 'help'
            __amq_parse_subcommand -r 1 'version'
        end
    end
end

function __amq_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __amq_parse_subcommand -S -a positional_count
    argparse -s r -- $argv
    set -l option_specs $argv[2..]
    set -l is_repeating_positional $_flag_r
    set -el _flag_r
    set -a commands $unparsed_tokens[1]
    set positional_index 0
    while true
        set -e unparsed_tokens[1]
        argparse -sn "$commands" $option_specs -- $unparsed_tokens 2> /dev/null
        set unparsed_tokens $argv
        set positional_index (math $positional_index + 1)
        for non_repeating_flag_or_option in $non_repeating_flags_or_options
            if set -ql "_flag_$(string replace -a - _ -- $non_repeating_flag_or_option)"
                set non_repeating_flags_or_options_absent 1
                break
            end
        end
        test (count $unparsed_tokens) -eq 0 -o \( -z "$is_repeating_positional" -a "$positional_index" -gt "$positional_count" \) && break
    end
end

function __amq_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __amq_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__amq_tokens -p)
    if test -z "$(__amq_tokens -t)"
        set -l index (count (__amq_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'amq' -f
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq" version' -l 'version' -d 'Show the version.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_positional "amq" -eq 1' -fa 'cluster' -d 'Create, inspect, start, stop and delete clusters.'
complete -c 'amq' -n '__amq_should_offer_completions_for_positional "amq" -eq 1' -fa 'node' -d 'List, add, drain and remove nodes (agents).'
complete -c 'amq' -n '__amq_should_offer_completions_for_positional "amq" -eq 1' -fa 'topic' -d 'Create, inspect, change and delete topics; switch inter-zone routing.'
complete -c 'amq' -n '__amq_should_offer_completions_for_positional "amq" -eq 1' -fa 'partition' -d 'Inspect partitions: leader, leader epoch, read-only replicas by zone.'
complete -c 'amq' -n '__amq_should_offer_completions_for_positional "amq" -eq 1' -fa 'audit' -d 'Show the audit log: every topology change, who made it, before and after.'
complete -c 'amq' -n '__amq_should_offer_completions_for_positional "amq" -eq 1' -fa 'controller' -d 'The control-plane daemon.'
complete -c 'amq' -n '__amq_should_offer_completions_for_positional "amq" -eq 1' -fa 'agent' -d 'The node agent daemon.'
complete -c 'amq' -n '__amq_should_offer_completions_for_positional "amq" -eq 1' -fa 'bench' -d 'Measure amq on this machine.'
complete -c 'amq' -n '__amq_should_offer_completions_for_positional "amq" -eq 1' -fa 'help' -d 'Show subcommand help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster" version' -l 'version' -d 'Show the version.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_positional "amq cluster" -eq 1' -fa 'create' -d 'Create a cluster\'s topology, and with --local start it on this machine.'
complete -c 'amq' -n '__amq_should_offer_completions_for_positional "amq cluster" -eq 1' -fa 'list' -d 'List the clusters in the topology database.'
complete -c 'amq' -n '__amq_should_offer_completions_for_positional "amq cluster" -eq 1' -fa 'status' -d 'Show the controller and every agent: process, zone, ports, liveness, last heartbeat.'
complete -c 'amq' -n '__amq_should_offer_completions_for_positional "amq cluster" -eq 1' -fa 'describe' -d 'Show a cluster\'s settings, zones, object store and counts.'
complete -c 'amq' -n '__amq_should_offer_completions_for_positional "amq cluster" -eq 1' -fa 'start' -d 'Start a local cluster\'s controller and agents from the stored topology.'
complete -c 'amq' -n '__amq_should_offer_completions_for_positional "amq cluster" -eq 1' -fa 'stop' -d 'Stop a local cluster\'s agents and controller.'
complete -c 'amq' -n '__amq_should_offer_completions_for_positional "amq cluster" -eq 1' -fa 'delete' -d 'Delete a cluster: stop its local processes, remove its topology and its directory.'
complete -c 'amq' -n '__amq_should_offer_completions_for_positional "amq cluster" -eq 1' -fa 'rebalance' -d 'Re-place partitions evenly over the active nodes, moving as few as possible.'
complete -c 'amq' -n '__amq_should_offer_completions_for_positional "amq cluster" -eq 1' -fa 'set' -d 'Change cluster settings.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster create" db' -l 'db' -d 'SQLite topology database (default: $AMQ_DB, else DATA_DIR/amq.db).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster create" data-dir' -l 'data-dir' -d 'Data directory (default: $AMQ_DATA_DIR, else ~/.amq).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster create" cluster' -l 'cluster' -d 'Cluster to act on (default: $AMQ_CLUSTER, else the only cluster).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster create" zones' -l 'zones' -d 'Comma-separated availability zones.' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster create" agents-per-zone' -l 'agents-per-zone' -d 'Agents (nodes) per zone.' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster create" object-store' -l 'object-store' -d 'Object store URL (default: file://CLUSTER_DIR/objects).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster create"' -l 'setting' -d 'Cluster setting key=value (repeatable).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster create" local' -l 'local' -d 'Start the controller and agents on this machine.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster create" version' -l 'version' -d 'Show the version.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster create" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster list" db' -l 'db' -d 'SQLite topology database (default: $AMQ_DB, else DATA_DIR/amq.db).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster list" data-dir' -l 'data-dir' -d 'Data directory (default: $AMQ_DATA_DIR, else ~/.amq).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster list" cluster' -l 'cluster' -d 'Cluster to act on (default: $AMQ_CLUSTER, else the only cluster).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster list" format' -l 'format' -d 'Output format: table or json.' -rfka 'table json'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster list" version' -l 'version' -d 'Show the version.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster list" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster status" db' -l 'db' -d 'SQLite topology database (default: $AMQ_DB, else DATA_DIR/amq.db).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster status" data-dir' -l 'data-dir' -d 'Data directory (default: $AMQ_DATA_DIR, else ~/.amq).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster status" cluster' -l 'cluster' -d 'Cluster to act on (default: $AMQ_CLUSTER, else the only cluster).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster status" format' -l 'format' -d 'Output format: table or json.' -rfka 'table json'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster status" version' -l 'version' -d 'Show the version.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster status" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster describe" db' -l 'db' -d 'SQLite topology database (default: $AMQ_DB, else DATA_DIR/amq.db).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster describe" data-dir' -l 'data-dir' -d 'Data directory (default: $AMQ_DATA_DIR, else ~/.amq).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster describe" cluster' -l 'cluster' -d 'Cluster to act on (default: $AMQ_CLUSTER, else the only cluster).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster describe" format' -l 'format' -d 'Output format: table or json.' -rfka 'table json'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster describe" version' -l 'version' -d 'Show the version.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster describe" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster start" db' -l 'db' -d 'SQLite topology database (default: $AMQ_DB, else DATA_DIR/amq.db).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster start" data-dir' -l 'data-dir' -d 'Data directory (default: $AMQ_DATA_DIR, else ~/.amq).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster start" cluster' -l 'cluster' -d 'Cluster to act on (default: $AMQ_CLUSTER, else the only cluster).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster start" version' -l 'version' -d 'Show the version.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster start" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster stop" db' -l 'db' -d 'SQLite topology database (default: $AMQ_DB, else DATA_DIR/amq.db).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster stop" data-dir' -l 'data-dir' -d 'Data directory (default: $AMQ_DATA_DIR, else ~/.amq).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster stop" cluster' -l 'cluster' -d 'Cluster to act on (default: $AMQ_CLUSTER, else the only cluster).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster stop" timeout' -l 'timeout' -d 'Seconds to wait after SIGTERM before SIGKILL.' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster stop" version' -l 'version' -d 'Show the version.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster stop" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster delete" db' -l 'db' -d 'SQLite topology database (default: $AMQ_DB, else DATA_DIR/amq.db).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster delete" data-dir' -l 'data-dir' -d 'Data directory (default: $AMQ_DATA_DIR, else ~/.amq).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster delete" cluster' -l 'cluster' -d 'Cluster to act on (default: $AMQ_CLUSTER, else the only cluster).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster delete" keep-files' -l 'keep-files' -d 'Keep the cluster directory.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster delete" version' -l 'version' -d 'Show the version.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster delete" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster rebalance" db' -l 'db' -d 'SQLite topology database (default: $AMQ_DB, else DATA_DIR/amq.db).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster rebalance" data-dir' -l 'data-dir' -d 'Data directory (default: $AMQ_DATA_DIR, else ~/.amq).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster rebalance" cluster' -l 'cluster' -d 'Cluster to act on (default: $AMQ_CLUSTER, else the only cluster).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster rebalance" format' -l 'format' -d 'Output format: table or json.' -rfka 'table json'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster rebalance" dry-run' -l 'dry-run' -d 'Show the moves without making them.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster rebalance" version' -l 'version' -d 'Show the version.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster rebalance" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster set" db' -l 'db' -d 'SQLite topology database (default: $AMQ_DB, else DATA_DIR/amq.db).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster set" data-dir' -l 'data-dir' -d 'Data directory (default: $AMQ_DATA_DIR, else ~/.amq).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster set" cluster' -l 'cluster' -d 'Cluster to act on (default: $AMQ_CLUSTER, else the only cluster).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster set" version' -l 'version' -d 'Show the version.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq cluster set" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq node" version' -l 'version' -d 'Show the version.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq node" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_positional "amq node" -eq 1' -fa 'list' -d 'List the cluster\'s nodes with their zone, addresses, state and liveness.'
complete -c 'amq' -n '__amq_should_offer_completions_for_positional "amq node" -eq 1' -fa 'add' -d 'Add a node to a zone; on a running local cluster, start its agent.'
complete -c 'amq' -n '__amq_should_offer_completions_for_positional "amq node" -eq 1' -fa 'drain' -d 'Move every leader and replica off a node and keep it empty.'
complete -c 'amq' -n '__amq_should_offer_completions_for_positional "amq node" -eq 1' -fa 'activate' -d 'Let a drained node take partitions again (at the next rebalance).'
complete -c 'amq' -n '__amq_should_offer_completions_for_positional "amq node" -eq 1' -fa 'remove' -d 'Remove a drained node (stopping its local agent).'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq node list" db' -l 'db' -d 'SQLite topology database (default: $AMQ_DB, else DATA_DIR/amq.db).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq node list" data-dir' -l 'data-dir' -d 'Data directory (default: $AMQ_DATA_DIR, else ~/.amq).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq node list" cluster' -l 'cluster' -d 'Cluster to act on (default: $AMQ_CLUSTER, else the only cluster).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq node list" format' -l 'format' -d 'Output format: table or json.' -rfka 'table json'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq node list" version' -l 'version' -d 'Show the version.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq node list" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq node add" db' -l 'db' -d 'SQLite topology database (default: $AMQ_DB, else DATA_DIR/amq.db).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq node add" data-dir' -l 'data-dir' -d 'Data directory (default: $AMQ_DATA_DIR, else ~/.amq).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq node add" cluster' -l 'cluster' -d 'Cluster to act on (default: $AMQ_CLUSTER, else the only cluster).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq node add" zone' -l 'zone' -d 'Zone of the new node.' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq node add" id' -l 'id' -d 'Node id (default: the next free one).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq node add" version' -l 'version' -d 'Show the version.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq node add" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq node drain" db' -l 'db' -d 'SQLite topology database (default: $AMQ_DB, else DATA_DIR/amq.db).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq node drain" data-dir' -l 'data-dir' -d 'Data directory (default: $AMQ_DATA_DIR, else ~/.amq).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq node drain" cluster' -l 'cluster' -d 'Cluster to act on (default: $AMQ_CLUSTER, else the only cluster).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq node drain" version' -l 'version' -d 'Show the version.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq node drain" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq node activate" db' -l 'db' -d 'SQLite topology database (default: $AMQ_DB, else DATA_DIR/amq.db).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq node activate" data-dir' -l 'data-dir' -d 'Data directory (default: $AMQ_DATA_DIR, else ~/.amq).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq node activate" cluster' -l 'cluster' -d 'Cluster to act on (default: $AMQ_CLUSTER, else the only cluster).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq node activate" version' -l 'version' -d 'Show the version.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq node activate" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq node remove" db' -l 'db' -d 'SQLite topology database (default: $AMQ_DB, else DATA_DIR/amq.db).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq node remove" data-dir' -l 'data-dir' -d 'Data directory (default: $AMQ_DATA_DIR, else ~/.amq).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq node remove" cluster' -l 'cluster' -d 'Cluster to act on (default: $AMQ_CLUSTER, else the only cluster).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq node remove" force' -l 'force' -d 'Drain the node first if it still holds partitions.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq node remove" version' -l 'version' -d 'Show the version.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq node remove" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic" version' -l 'version' -d 'Show the version.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_positional "amq topic" -eq 1' -fa 'create' -d 'Create a topic and place its partitions.'
complete -c 'amq' -n '__amq_should_offer_completions_for_positional "amq topic" -eq 1' -fa 'list' -d 'List topics with their partition count and routing switch.'
complete -c 'amq' -n '__amq_should_offer_completions_for_positional "amq topic" -eq 1' -fa 'describe' -d 'Show a topic\'s configs and where each partition lives.'
complete -c 'amq' -n '__amq_should_offer_completions_for_positional "amq topic" -eq 1' -fa 'alter' -d 'Change a topic\'s configs or add partitions.'
complete -c 'amq' -n '__amq_should_offer_completions_for_positional "amq topic" -eq 1' -fa 'delete' -d 'Delete a topic.'
complete -c 'amq' -n '__amq_should_offer_completions_for_positional "amq topic" -eq 1' -fa 'route-enable' -d 'Turn inter-zone routing on: clients see the partition\'s agent in their own zone.'
complete -c 'amq' -n '__amq_should_offer_completions_for_positional "amq topic" -eq 1' -fa 'route-disable' -d 'Turn inter-zone routing off: every client sees the true leader, as in Kafka.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic create" db' -l 'db' -d 'SQLite topology database (default: $AMQ_DB, else DATA_DIR/amq.db).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic create" data-dir' -l 'data-dir' -d 'Data directory (default: $AMQ_DATA_DIR, else ~/.amq).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic create" cluster' -l 'cluster' -d 'Cluster to act on (default: $AMQ_CLUSTER, else the only cluster).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic create" format' -l 'format' -d 'Output format: table or json.' -rfka 'table json'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic create" partitions' -l 'partitions' -d 'Number of partitions.' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic create"' -l 'config' -d 'Topic config key=value (repeatable).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic create" route-enabled' -l 'route-enabled' -d 'Turn inter-zone routing on (same as --config route.enabled=true).'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic create" version' -l 'version' -d 'Show the version.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic create" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic list" db' -l 'db' -d 'SQLite topology database (default: $AMQ_DB, else DATA_DIR/amq.db).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic list" data-dir' -l 'data-dir' -d 'Data directory (default: $AMQ_DATA_DIR, else ~/.amq).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic list" cluster' -l 'cluster' -d 'Cluster to act on (default: $AMQ_CLUSTER, else the only cluster).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic list" format' -l 'format' -d 'Output format: table or json.' -rfka 'table json'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic list" version' -l 'version' -d 'Show the version.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic list" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic describe" db' -l 'db' -d 'SQLite topology database (default: $AMQ_DB, else DATA_DIR/amq.db).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic describe" data-dir' -l 'data-dir' -d 'Data directory (default: $AMQ_DATA_DIR, else ~/.amq).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic describe" cluster' -l 'cluster' -d 'Cluster to act on (default: $AMQ_CLUSTER, else the only cluster).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic describe" format' -l 'format' -d 'Output format: table or json.' -rfka 'table json'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic describe" version' -l 'version' -d 'Show the version.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic describe" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic alter" db' -l 'db' -d 'SQLite topology database (default: $AMQ_DB, else DATA_DIR/amq.db).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic alter" data-dir' -l 'data-dir' -d 'Data directory (default: $AMQ_DATA_DIR, else ~/.amq).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic alter" cluster' -l 'cluster' -d 'Cluster to act on (default: $AMQ_CLUSTER, else the only cluster).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic alter" format' -l 'format' -d 'Output format: table or json.' -rfka 'table json'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic alter"' -l 'config' -d 'Config to set, key=value (repeatable).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic alter"' -l 'delete-config' -d 'Config to reset to its default (repeatable).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic alter" partitions' -l 'partitions' -d 'New, larger partition count.' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic alter" version' -l 'version' -d 'Show the version.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic alter" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic delete" db' -l 'db' -d 'SQLite topology database (default: $AMQ_DB, else DATA_DIR/amq.db).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic delete" data-dir' -l 'data-dir' -d 'Data directory (default: $AMQ_DATA_DIR, else ~/.amq).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic delete" cluster' -l 'cluster' -d 'Cluster to act on (default: $AMQ_CLUSTER, else the only cluster).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic delete" version' -l 'version' -d 'Show the version.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic delete" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic route-enable" db' -l 'db' -d 'SQLite topology database (default: $AMQ_DB, else DATA_DIR/amq.db).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic route-enable" data-dir' -l 'data-dir' -d 'Data directory (default: $AMQ_DATA_DIR, else ~/.amq).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic route-enable" cluster' -l 'cluster' -d 'Cluster to act on (default: $AMQ_CLUSTER, else the only cluster).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic route-enable" version' -l 'version' -d 'Show the version.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic route-enable" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic route-disable" db' -l 'db' -d 'SQLite topology database (default: $AMQ_DB, else DATA_DIR/amq.db).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic route-disable" data-dir' -l 'data-dir' -d 'Data directory (default: $AMQ_DATA_DIR, else ~/.amq).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic route-disable" cluster' -l 'cluster' -d 'Cluster to act on (default: $AMQ_CLUSTER, else the only cluster).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic route-disable" version' -l 'version' -d 'Show the version.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq topic route-disable" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq partition" version' -l 'version' -d 'Show the version.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq partition" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_positional "amq partition" -eq 1' -fa 'list' -d 'List partitions with their leader, leader epoch and read-only replicas by zone.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq partition list" db' -l 'db' -d 'SQLite topology database (default: $AMQ_DB, else DATA_DIR/amq.db).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq partition list" data-dir' -l 'data-dir' -d 'Data directory (default: $AMQ_DATA_DIR, else ~/.amq).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq partition list" cluster' -l 'cluster' -d 'Cluster to act on (default: $AMQ_CLUSTER, else the only cluster).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq partition list" format' -l 'format' -d 'Output format: table or json.' -rfka 'table json'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq partition list" topic' -l 'topic' -d 'Only this topic\'s partitions.' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq partition list" version' -l 'version' -d 'Show the version.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq partition list" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq audit" db' -l 'db' -d 'SQLite topology database (default: $AMQ_DB, else DATA_DIR/amq.db).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq audit" data-dir' -l 'data-dir' -d 'Data directory (default: $AMQ_DATA_DIR, else ~/.amq).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq audit" cluster' -l 'cluster' -d 'Cluster to act on (default: $AMQ_CLUSTER, else the only cluster).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq audit" format' -l 'format' -d 'Output format: table or json.' -rfka 'table json'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq audit" limit' -l 'limit' -d 'Most recent entries to show.' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq audit" version' -l 'version' -d 'Show the version.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq audit" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq controller" version' -l 'version' -d 'Show the version.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq controller" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_positional "amq controller" -eq 1' -fa 'run' -d 'Run the controller: control API, topology push, liveness.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq controller run" db' -l 'db' -d 'SQLite topology database (default: $AMQ_DB, else DATA_DIR/amq.db).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq controller run" data-dir' -l 'data-dir' -d 'Data directory (default: $AMQ_DATA_DIR, else ~/.amq).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq controller run" cluster' -l 'cluster' -d 'Cluster to act on (default: $AMQ_CLUSTER, else the only cluster).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq controller run" log-level' -l 'log-level' -d 'Log level: trace, debug, info, notice, warning, error, critical.' -rfka 'trace debug info notice warning error critical'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq controller run" listen' -l 'listen' -d 'Address to listen on; port 0 picks a free one.' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq controller run" secret-file' -l 'secret-file' -d 'File holding the cluster secret (else $AMQ_CLUSTER_SECRET).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq controller run" version' -l 'version' -d 'Show the version.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq controller run" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq agent" version' -l 'version' -d 'Show the version.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq agent" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_positional "amq agent" -eq 1' -fa 'run' -d 'Run a node agent: Kafka listener, admin listener, controller session.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq agent run" log-level' -l 'log-level' -d 'Log level: trace, debug, info, notice, warning, error, critical.' -rfka 'trace debug info notice warning error critical'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq agent run" controller' -l 'controller' -d 'Controller URL.' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq agent run" zone' -l 'zone' -d 'Availability zone of this agent.' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq agent run" node-id' -l 'node-id' -d 'Node id (else $AMQ_NODE_ID; else one is given by --node-name).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq agent run" node-name' -l 'node-name' -d 'Stable node name that maps to a node id (default: $HOSTNAME when no --node-id).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq agent run" secret-file' -l 'secret-file' -d 'File holding the cluster secret (else $AMQ_CLUSTER_SECRET).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq agent run" host' -l 'host' -d 'Address the listeners bind to.' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq agent run" advertised-host' -l 'advertised-host' -d 'Address clients are told to connect to (default: --host).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq agent run" kafka-port' -l 'kafka-port' -d 'Kafka listener port; 0 picks a free one.' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq agent run" admin-port' -l 'admin-port' -d 'Admin listener port; 0 picks a free one.' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq agent run" register-timeout' -l 'register-timeout' -d 'Seconds to keep trying to reach the controller at start-up.' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq agent run" version' -l 'version' -d 'Show the version.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq agent run" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq bench" version' -l 'version' -d 'Show the version.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq bench" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_positional "amq bench" -eq 1' -fa 'storage' -d 'Benchmark the storage engine: append throughput and latency, PUTs per MB, cold and warm reads.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq bench storage" object-store' -l 'object-store' -d 'Object store URL; a fresh prefix is used under it.' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq bench storage" megabytes' -l 'megabytes' -d 'Megabytes appended per batch size.' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq bench storage" batch-sizes' -l 'batch-sizes' -d 'Batch sizes in bytes, comma-separated.' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq bench storage" partitions' -l 'partitions' -d 'Partitions written concurrently.' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq bench storage" in-flight-megabytes' -l 'in-flight-megabytes' -d 'Megabytes of appends in flight at once (as a producer\'s many in-flight batches).' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq bench storage" linger-ms' -l 'linger-ms' -d 'Linger in milliseconds.' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq bench storage" many-objects' -l 'many-objects' -d 'Objects in the many-objects read test.' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq bench storage" output' -l 'output' -d 'Append the results as Markdown to this file.' -rfka ''
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq bench storage" version' -l 'version' -d 'Show the version.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq bench storage" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'amq' -n '__amq_should_offer_completions_for_flags_or_options "amq help" version' -l 'version' -d 'Show the version.'
