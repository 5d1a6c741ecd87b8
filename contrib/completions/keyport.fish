# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_keyport_global_optspecs
    string join \n v/verbose h/help V/version
end

function __fish_keyport_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_keyport_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_keyport_using_subcommand
    set -l cmd (__fish_keyport_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c keyport -n "__fish_keyport_needs_command" -s v -l verbose -d 'More log output on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c keyport -n "__fish_keyport_needs_command" -s h -l help -d 'Print help'
complete -c keyport -n "__fish_keyport_needs_command" -s V -l version -d 'Print version'
complete -c keyport -n "__fish_keyport_needs_command" -f -a "provider" -d 'Manage providers (where accounts sign in)'
complete -c keyport -n "__fish_keyport_needs_command" -f -a "add" -d 'Connect an account: browser sign-in, or --device, or --client-credentials'
complete -c keyport -n "__fish_keyport_needs_command" -f -a "list" -d 'List accounts'
complete -c keyport -n "__fish_keyport_needs_command" -f -a "status" -d 'Show one account'
complete -c keyport -n "__fish_keyport_needs_command" -f -a "token" -d 'Print the account\'s access token, and nothing else'
complete -c keyport -n "__fish_keyport_needs_command" -f -a "refresh" -d 'Renew the account\'s access token now'
complete -c keyport -n "__fish_keyport_needs_command" -f -a "reauth" -d 'Sign in again for an existing account (after "needs sign-in", or to add scopes)'
complete -c keyport -n "__fish_keyport_needs_command" -f -a "daemon" -d 'Run Keyport\'s service in the foreground (the socket for other programs, background renewal)'
complete -c keyport -n "__fish_keyport_needs_command" -f -a "allow" -d 'Let a program use an account: read its tokens, renew, sign in again, revoke, remove'
complete -c keyport -n "__fish_keyport_needs_command" -f -a "deny" -d 'Stop a program from using an account; it no longer sees anything of it'
complete -c keyport -n "__fish_keyport_needs_command" -f -a "forget" -d 'Forget what you decided about a program and an account: it is asked again'
complete -c keyport -n "__fish_keyport_needs_command" -f -a "apps" -d 'List which programs may (or may not) read which accounts'
complete -c keyport -n "__fish_keyport_needs_command" -f -a "log" -d 'Show who read what: tokens handed out, actions allowed, requests refused (only you, at a terminal)'
complete -c keyport -n "__fish_keyport_needs_command" -f -a "quit" -d 'Stop Keyport\'s service (the socket, background renewal, the tray)'
complete -c keyport -n "__fish_keyport_needs_command" -f -a "remove" -d 'Delete an account and its tokens from the keyring'
complete -c keyport -n "__fish_keyport_needs_command" -f -a "revoke" -d 'Have the provider revoke the account\'s tokens, then remove the account'
complete -c keyport -n "__fish_keyport_needs_command" -f -a "git-credential" -d 'git credential helper: hands git a fresh token for HTTPS remotes (docs/clients.md)'
complete -c keyport -n "__fish_keyport_needs_command" -f -a "completions" -d 'Print shell completions for bash, zsh or fish (README: "Shell completions and man page")'
complete -c keyport -n "__fish_keyport_needs_command" -f -a "man" -d 'Print the man page, keyport(1), in roff (`keyport man | man -l -`)'
complete -c keyport -n "__fish_keyport_needs_command" -f -a "xoauth2" -d 'Print the SASL XOAUTH2 string (base64) that IMAP and SMTP clients send'
complete -c keyport -n "__fish_keyport_needs_command" -f -a "ssh" -d 'ssh to a machine, lending it this desktop\'s tokens for the session'
complete -c keyport -n "__fish_keyport_needs_command" -f -a "forward" -d 'Lend this desktop\'s tokens to ssh sessions to HOST that your ssh_config forwards (RemoteForward), until stopped'
complete -c keyport -n "__fish_keyport_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c keyport -n "__fish_keyport_using_subcommand provider; and not __fish_seen_subcommand_from add list remove edit refresh help" -s v -l verbose -d 'More log output on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c keyport -n "__fish_keyport_using_subcommand provider; and not __fish_seen_subcommand_from add list remove edit refresh help" -s h -l help -d 'Print help'
complete -c keyport -n "__fish_keyport_using_subcommand provider; and not __fish_seen_subcommand_from add list remove edit refresh help" -f -a "add" -d 'Add a provider: a preset, an issuer to discover, or endpoints'
complete -c keyport -n "__fish_keyport_using_subcommand provider; and not __fish_seen_subcommand_from add list remove edit refresh help" -f -a "list" -d 'List providers'
complete -c keyport -n "__fish_keyport_using_subcommand provider; and not __fish_seen_subcommand_from add list remove edit refresh help" -f -a "remove" -d 'Remove a provider and its client secret'
complete -c keyport -n "__fish_keyport_using_subcommand provider; and not __fish_seen_subcommand_from add list remove edit refresh help" -f -a "edit" -d 'Change a provider\'s endpoints, scopes, redirect URI or client secret; its accounts stay'
complete -c keyport -n "__fish_keyport_using_subcommand provider; and not __fish_seen_subcommand_from add list remove edit refresh help" -f -a "refresh" -d 'Read a discovered provider\'s metadata again (endpoints given by hand stay over it)'
complete -c keyport -n "__fish_keyport_using_subcommand provider; and not __fish_seen_subcommand_from add list remove edit refresh help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from add" -l preset -d 'A built-in provider: google, microsoft, github, gitlab' -r
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from add" -l tenant -d 'Microsoft tenant: common, organizations, consumers, or a tenant id or domain' -r
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from add" -l base-url -d 'Self-hosted GitLab base URL (default https://gitlab.com)' -r
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from add" -l issuer -d 'An OpenID Connect or RFC 8414 issuer: endpoints are discovered' -r
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from add" -l auth-url -d 'Authorization endpoint' -r
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from add" -l token-url -d 'Token endpoint' -r
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from add" -l revoke-url -d 'RFC 7009 revocation endpoint' -r
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from add" -l device-url -d 'RFC 8628 device authorization endpoint' -r
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from add" -l userinfo-url -d 'OpenID Connect userinfo endpoint' -r
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from add" -l introspection-url -d 'RFC 7662 token introspection endpoint (`keyport revoke` checks there)' -r
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from add" -l client-id -d 'The client id you registered with the provider' -r
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from add" -l scope -d 'Default scopes (repeatable; each value may hold several, space-separated)' -r
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from add" -l redirect-host -d 'Redirect host, as registered: 127.0.0.1, [::1] or localhost' -r
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from add" -l redirect-path -d 'Redirect path, as registered (default: /callback/NAME, the provider\'s own)' -r
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from add" -l client-secret-stdin -d 'Read the client secret from standard input (it goes to the keyring)'
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from add" -s v -l verbose -d 'More log output on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from list" -l json -d 'Print JSON'
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More log output on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from remove" -s v -l verbose -d 'More log output on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from edit" -l auth-url -d 'Authorization endpoint' -r
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from edit" -l token-url -d 'Token endpoint' -r
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from edit" -l revoke-url -d 'RFC 7009 revocation endpoint' -r
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from edit" -l device-url -d 'RFC 8628 device authorization endpoint' -r
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from edit" -l userinfo-url -d 'OpenID Connect userinfo endpoint' -r
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from edit" -l introspection-url -d 'RFC 7662 token introspection endpoint (`keyport revoke` checks there)' -r
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from edit" -l forget-url -d 'Forget an endpoint given by hand (back to the preset\'s or the discovered one), or drop an optional endpoint of a provider added by its endpoints: authorization, token, revocation, device_authorization, userinfo, introspection. Repeatable' -r
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from edit" -l scope -d 'New default scopes (repeatable; space-separated values)' -r
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from edit" -l redirect-host -d 'Redirect host, as registered: 127.0.0.1, [::1] or localhost' -r
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from edit" -l redirect-path -d 'Redirect path, as registered' -r
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from edit" -l default-scopes -d 'Back to the preset\'s or the discovered default scopes'
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from edit" -l client-secret-stdin -d 'Read a new client secret from standard input (it goes to the keyring)'
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from edit" -l no-client-secret -d 'Delete the client secret (a public client from now on)'
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from edit" -s v -l verbose -d 'More log output on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from edit" -s h -l help -d 'Print help'
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from refresh" -s v -l verbose -d 'More log output on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from refresh" -s h -l help -d 'Print help'
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add a provider: a preset, an issuer to discover, or endpoints'
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from help" -f -a "list" -d 'List providers'
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove a provider and its client secret'
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from help" -f -a "edit" -d 'Change a provider\'s endpoints, scopes, redirect URI or client secret; its accounts stay'
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from help" -f -a "refresh" -d 'Read a discovered provider\'s metadata again (endpoints given by hand stay over it)'
complete -c keyport -n "__fish_keyport_using_subcommand provider; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c keyport -n "__fish_keyport_using_subcommand add" -l name -d 'Name for the account (default: its email address)' -r
complete -c keyport -n "__fish_keyport_using_subcommand add" -l scope -d 'Scopes to request (repeatable; each value may hold several, space-separated)' -r
complete -c keyport -n "__fish_keyport_using_subcommand add" -l timeout -d 'Seconds to wait for the sign-in to complete' -r
complete -c keyport -n "__fish_keyport_using_subcommand add" -l client-id -d 'With --client-credentials: the client id, when it is not the provider\'s' -r
complete -c keyport -n "__fish_keyport_using_subcommand add" -l no-browser -d 'Do not open a browser; print the URL to open elsewhere'
complete -c keyport -n "__fish_keyport_using_subcommand add" -l client-credentials -d 'A service account: the Client Credentials grant, client secret read from stdin'
complete -c keyport -n "__fish_keyport_using_subcommand add" -l device -d 'Sign in on another device with a code (RFC 8628 device flow), for machines without a browser'
complete -c keyport -n "__fish_keyport_using_subcommand add" -l implicit -d 'Refused: the implicit grant is unsafe (OAuth 2.1, RFC 9700)'
complete -c keyport -n "__fish_keyport_using_subcommand add" -l password -d 'Refused: the password grant is unsafe (OAuth 2.1, RFC 9700)'
complete -c keyport -n "__fish_keyport_using_subcommand add" -s v -l verbose -d 'More log output on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c keyport -n "__fish_keyport_using_subcommand add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c keyport -n "__fish_keyport_using_subcommand list" -l json -d 'Print JSON (see docs/json.md)'
complete -c keyport -n "__fish_keyport_using_subcommand list" -s v -l verbose -d 'More log output on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c keyport -n "__fish_keyport_using_subcommand list" -s h -l help -d 'Print help'
complete -c keyport -n "__fish_keyport_using_subcommand status" -l json -d 'Print JSON (see docs/json.md)'
complete -c keyport -n "__fish_keyport_using_subcommand status" -s v -l verbose -d 'More log output on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c keyport -n "__fish_keyport_using_subcommand status" -s h -l help -d 'Print help'
complete -c keyport -n "__fish_keyport_using_subcommand token" -l min-valid -d 'Renew the token first if it expires within this many seconds' -r
complete -c keyport -n "__fish_keyport_using_subcommand token" -s v -l verbose -d 'More log output on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c keyport -n "__fish_keyport_using_subcommand token" -s h -l help -d 'Print help'
complete -c keyport -n "__fish_keyport_using_subcommand refresh" -l json -d 'Print the account as JSON afterwards'
complete -c keyport -n "__fish_keyport_using_subcommand refresh" -s v -l verbose -d 'More log output on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c keyport -n "__fish_keyport_using_subcommand refresh" -s h -l help -d 'Print help'
complete -c keyport -n "__fish_keyport_using_subcommand reauth" -l scope -d 'Extra scopes to ask for, on top of the account\'s (repeatable; space-separated values)' -r
complete -c keyport -n "__fish_keyport_using_subcommand reauth" -l timeout -d 'Seconds to wait for the sign-in to complete' -r
complete -c keyport -n "__fish_keyport_using_subcommand reauth" -l no-browser -d 'Do not open a browser; print the URL to open elsewhere'
complete -c keyport -n "__fish_keyport_using_subcommand reauth" -s v -l verbose -d 'More log output on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c keyport -n "__fish_keyport_using_subcommand reauth" -s h -l help -d 'Print help'
complete -c keyport -n "__fish_keyport_using_subcommand daemon" -l refresh-margin -d 'Renew when this percentage of a token\'s lifetime is left' -r
complete -c keyport -n "__fish_keyport_using_subcommand daemon" -l refresh-floor -d '... but with at least this many seconds left (at most half the lifetime)' -r
complete -c keyport -n "__fish_keyport_using_subcommand daemon" -l log-file -d 'Log to this file, rotated at 1 MiB (one old file kept), instead of standard error' -r -F
complete -c keyport -n "__fish_keyport_using_subcommand daemon" -s v -l verbose -d 'More log output on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c keyport -n "__fish_keyport_using_subcommand daemon" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c keyport -n "__fish_keyport_using_subcommand allow" -l remote -d 'A program on HOST, asking through `keyport ssh` (its name is the remote side\'s claim)' -r
complete -c keyport -n "__fish_keyport_using_subcommand allow" -l every-account -d 'Every account, present and future (and connecting new ones)'
complete -c keyport -n "__fish_keyport_using_subcommand allow" -s v -l verbose -d 'More log output on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c keyport -n "__fish_keyport_using_subcommand allow" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c keyport -n "__fish_keyport_using_subcommand deny" -l remote -d 'A program on HOST, asking through `keyport ssh` (its name is the remote side\'s claim)' -r
complete -c keyport -n "__fish_keyport_using_subcommand deny" -l every-account -d 'Every account, present and future (and connecting new ones)'
complete -c keyport -n "__fish_keyport_using_subcommand deny" -s v -l verbose -d 'More log output on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c keyport -n "__fish_keyport_using_subcommand deny" -s h -l help -d 'Print help'
complete -c keyport -n "__fish_keyport_using_subcommand forget" -l remote -d 'A program on HOST, asking through `keyport ssh` (its name is the remote side\'s claim)' -r
complete -c keyport -n "__fish_keyport_using_subcommand forget" -l every-account -d 'Every account, present and future (and connecting new ones)'
complete -c keyport -n "__fish_keyport_using_subcommand forget" -s v -l verbose -d 'More log output on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c keyport -n "__fish_keyport_using_subcommand forget" -s h -l help -d 'Print help'
complete -c keyport -n "__fish_keyport_using_subcommand apps" -l json -d 'Print JSON'
complete -c keyport -n "__fish_keyport_using_subcommand apps" -s v -l verbose -d 'More log output on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c keyport -n "__fish_keyport_using_subcommand apps" -s h -l help -d 'Print help'
complete -c keyport -n "__fish_keyport_using_subcommand log" -l account -d 'Only records about this account' -r
complete -c keyport -n "__fish_keyport_using_subcommand log" -l program -d 'Only records of this program: a name in PATH, a path, flatpak:ID, snap:NAME...' -r
complete -c keyport -n "__fish_keyport_using_subcommand log" -l since -d 'Only records since then: an RFC 3339 time, a date (2026-11-30, from midnight UTC), or a time ago (30m, 2h, 7d)' -r
complete -c keyport -n "__fish_keyport_using_subcommand log" -l limit -d 'At most this many records, the newest (at most 1000)' -r
complete -c keyport -n "__fish_keyport_using_subcommand log" -l json -d 'Print JSON (see docs/json.md)'
complete -c keyport -n "__fish_keyport_using_subcommand log" -s v -l verbose -d 'More log output on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c keyport -n "__fish_keyport_using_subcommand log" -s h -l help -d 'Print help'
complete -c keyport -n "__fish_keyport_using_subcommand quit" -s v -l verbose -d 'More log output on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c keyport -n "__fish_keyport_using_subcommand quit" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c keyport -n "__fish_keyport_using_subcommand remove" -s v -l verbose -d 'More log output on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c keyport -n "__fish_keyport_using_subcommand remove" -s h -l help -d 'Print help'
complete -c keyport -n "__fish_keyport_using_subcommand revoke" -l local -d 'Remove the account from Keyport even if the provider cannot revoke (it is still asked first)'
complete -c keyport -n "__fish_keyport_using_subcommand revoke" -s v -l verbose -d 'More log output on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c keyport -n "__fish_keyport_using_subcommand revoke" -s h -l help -d 'Print help'
complete -c keyport -n "__fish_keyport_using_subcommand git-credential" -l account -d 'Use this account, instead of looking the host up in `$XDG_CONFIG_HOME/keyport/git.toml`' -r
complete -c keyport -n "__fish_keyport_using_subcommand git-credential" -s v -l verbose -d 'More log output on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c keyport -n "__fish_keyport_using_subcommand git-credential" -s h -l help -d 'Print help'
complete -c keyport -n "__fish_keyport_using_subcommand completions" -s v -l verbose -d 'More log output on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c keyport -n "__fish_keyport_using_subcommand completions" -s h -l help -d 'Print help'
complete -c keyport -n "__fish_keyport_using_subcommand man" -s v -l verbose -d 'More log output on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c keyport -n "__fish_keyport_using_subcommand man" -s h -l help -d 'Print help'
complete -c keyport -n "__fish_keyport_using_subcommand xoauth2" -l user -d 'The mailbox to log in as (default: the account\'s email address)' -r
complete -c keyport -n "__fish_keyport_using_subcommand xoauth2" -l min-valid -d 'Renew the token first if it expires within this many seconds' -r
complete -c keyport -n "__fish_keyport_using_subcommand xoauth2" -l raw -d 'Print the string unencoded (with its \\x01 separators), for programs that encode it themselves'
complete -c keyport -n "__fish_keyport_using_subcommand xoauth2" -s v -l verbose -d 'More log output on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c keyport -n "__fish_keyport_using_subcommand xoauth2" -s h -l help -d 'Print help'
complete -c keyport -n "__fish_keyport_using_subcommand ssh" -s v -l verbose -d 'More log output on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c keyport -n "__fish_keyport_using_subcommand ssh" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c keyport -n "__fish_keyport_using_subcommand forward" -s v -l verbose -d 'More log output on stderr (-v debug, -vv trace). RUST_LOG overrides'
complete -c keyport -n "__fish_keyport_using_subcommand forward" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c keyport -n "__fish_keyport_using_subcommand help; and not __fish_seen_subcommand_from provider add list status token refresh reauth daemon allow deny forget apps log quit remove revoke git-credential completions man xoauth2 ssh forward help" -f -a "provider" -d 'Manage providers (where accounts sign in)'
complete -c keyport -n "__fish_keyport_using_subcommand help; and not __fish_seen_subcommand_from provider add list status token refresh reauth daemon allow deny forget apps log quit remove revoke git-credential completions man xoauth2 ssh forward help" -f -a "add" -d 'Connect an account: browser sign-in, or --device, or --client-credentials'
complete -c keyport -n "__fish_keyport_using_subcommand help; and not __fish_seen_subcommand_from provider add list status token refresh reauth daemon allow deny forget apps log quit remove revoke git-credential completions man xoauth2 ssh forward help" -f -a "list" -d 'List accounts'
complete -c keyport -n "__fish_keyport_using_subcommand help; and not __fish_seen_subcommand_from provider add list status token refresh reauth daemon allow deny forget apps log quit remove revoke git-credential completions man xoauth2 ssh forward help" -f -a "status" -d 'Show one account'
complete -c keyport -n "__fish_keyport_using_subcommand help; and not __fish_seen_subcommand_from provider add list status token refresh reauth daemon allow deny forget apps log quit remove revoke git-credential completions man xoauth2 ssh forward help" -f -a "token" -d 'Print the account\'s access token, and nothing else'
complete -c keyport -n "__fish_keyport_using_subcommand help; and not __fish_seen_subcommand_from provider add list status token refresh reauth daemon allow deny forget apps log quit remove revoke git-credential completions man xoauth2 ssh forward help" -f -a "refresh" -d 'Renew the account\'s access token now'
complete -c keyport -n "__fish_keyport_using_subcommand help; and not __fish_seen_subcommand_from provider add list status token refresh reauth daemon allow deny forget apps log quit remove revoke git-credential completions man xoauth2 ssh forward help" -f -a "reauth" -d 'Sign in again for an existing account (after "needs sign-in", or to add scopes)'
complete -c keyport -n "__fish_keyport_using_subcommand help; and not __fish_seen_subcommand_from provider add list status token refresh reauth daemon allow deny forget apps log quit remove revoke git-credential completions man xoauth2 ssh forward help" -f -a "daemon" -d 'Run Keyport\'s service in the foreground (the socket for other programs, background renewal)'
complete -c keyport -n "__fish_keyport_using_subcommand help; and not __fish_seen_subcommand_from provider add list status token refresh reauth daemon allow deny forget apps log quit remove revoke git-credential completions man xoauth2 ssh forward help" -f -a "allow" -d 'Let a program use an account: read its tokens, renew, sign in again, revoke, remove'
complete -c keyport -n "__fish_keyport_using_subcommand help; and not __fish_seen_subcommand_from provider add list status token refresh reauth daemon allow deny forget apps log quit remove revoke git-credential completions man xoauth2 ssh forward help" -f -a "deny" -d 'Stop a program from using an account; it no longer sees anything of it'
complete -c keyport -n "__fish_keyport_using_subcommand help; and not __fish_seen_subcommand_from provider add list status token refresh reauth daemon allow deny forget apps log quit remove revoke git-credential completions man xoauth2 ssh forward help" -f -a "forget" -d 'Forget what you decided about a program and an account: it is asked again'
complete -c keyport -n "__fish_keyport_using_subcommand help; and not __fish_seen_subcommand_from provider add list status token refresh reauth daemon allow deny forget apps log quit remove revoke git-credential completions man xoauth2 ssh forward help" -f -a "apps" -d 'List which programs may (or may not) read which accounts'
complete -c keyport -n "__fish_keyport_using_subcommand help; and not __fish_seen_subcommand_from provider add list status token refresh reauth daemon allow deny forget apps log quit remove revoke git-credential completions man xoauth2 ssh forward help" -f -a "log" -d 'Show who read what: tokens handed out, actions allowed, requests refused (only you, at a terminal)'
complete -c keyport -n "__fish_keyport_using_subcommand help; and not __fish_seen_subcommand_from provider add list status token refresh reauth daemon allow deny forget apps log quit remove revoke git-credential completions man xoauth2 ssh forward help" -f -a "quit" -d 'Stop Keyport\'s service (the socket, background renewal, the tray)'
complete -c keyport -n "__fish_keyport_using_subcommand help; and not __fish_seen_subcommand_from provider add list status token refresh reauth daemon allow deny forget apps log quit remove revoke git-credential completions man xoauth2 ssh forward help" -f -a "remove" -d 'Delete an account and its tokens from the keyring'
complete -c keyport -n "__fish_keyport_using_subcommand help; and not __fish_seen_subcommand_from provider add list status token refresh reauth daemon allow deny forget apps log quit remove revoke git-credential completions man xoauth2 ssh forward help" -f -a "revoke" -d 'Have the provider revoke the account\'s tokens, then remove the account'
complete -c keyport -n "__fish_keyport_using_subcommand help; and not __fish_seen_subcommand_from provider add list status token refresh reauth daemon allow deny forget apps log quit remove revoke git-credential completions man xoauth2 ssh forward help" -f -a "git-credential" -d 'git credential helper: hands git a fresh token for HTTPS remotes (docs/clients.md)'
complete -c keyport -n "__fish_keyport_using_subcommand help; and not __fish_seen_subcommand_from provider add list status token refresh reauth daemon allow deny forget apps log quit remove revoke git-credential completions man xoauth2 ssh forward help" -f -a "completions" -d 'Print shell completions for bash, zsh or fish (README: "Shell completions and man page")'
complete -c keyport -n "__fish_keyport_using_subcommand help; and not __fish_seen_subcommand_from provider add list status token refresh reauth daemon allow deny forget apps log quit remove revoke git-credential completions man xoauth2 ssh forward help" -f -a "man" -d 'Print the man page, keyport(1), in roff (`keyport man | man -l -`)'
complete -c keyport -n "__fish_keyport_using_subcommand help; and not __fish_seen_subcommand_from provider add list status token refresh reauth daemon allow deny forget apps log quit remove revoke git-credential completions man xoauth2 ssh forward help" -f -a "xoauth2" -d 'Print the SASL XOAUTH2 string (base64) that IMAP and SMTP clients send'
complete -c keyport -n "__fish_keyport_using_subcommand help; and not __fish_seen_subcommand_from provider add list status token refresh reauth daemon allow deny forget apps log quit remove revoke git-credential completions man xoauth2 ssh forward help" -f -a "ssh" -d 'ssh to a machine, lending it this desktop\'s tokens for the session'
complete -c keyport -n "__fish_keyport_using_subcommand help; and not __fish_seen_subcommand_from provider add list status token refresh reauth daemon allow deny forget apps log quit remove revoke git-credential completions man xoauth2 ssh forward help" -f -a "forward" -d 'Lend this desktop\'s tokens to ssh sessions to HOST that your ssh_config forwards (RemoteForward), until stopped'
complete -c keyport -n "__fish_keyport_using_subcommand help; and not __fish_seen_subcommand_from provider add list status token refresh reauth daemon allow deny forget apps log quit remove revoke git-credential completions man xoauth2 ssh forward help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c keyport -n "__fish_keyport_using_subcommand help; and __fish_seen_subcommand_from provider" -f -a "add" -d 'Add a provider: a preset, an issuer to discover, or endpoints'
complete -c keyport -n "__fish_keyport_using_subcommand help; and __fish_seen_subcommand_from provider" -f -a "list" -d 'List providers'
complete -c keyport -n "__fish_keyport_using_subcommand help; and __fish_seen_subcommand_from provider" -f -a "remove" -d 'Remove a provider and its client secret'
complete -c keyport -n "__fish_keyport_using_subcommand help; and __fish_seen_subcommand_from provider" -f -a "edit" -d 'Change a provider\'s endpoints, scopes, redirect URI or client secret; its accounts stay'
complete -c keyport -n "__fish_keyport_using_subcommand help; and __fish_seen_subcommand_from provider" -f -a "refresh" -d 'Read a discovered provider\'s metadata again (endpoints given by hand stay over it)'
