#!/bin/sh
# Delivers a sample reply to a running inbound SMTP listener over
# STARTTLS, as a sending MTA would, with swaks. It starts nothing itself:
# run the portal with mail.inbound.addr, tls_cert and tls_key set first.
#
#   scripts/swaks-inbound.sh HOST:PORT REPLY_TO FROM [CA_FILE]
#
# REPLY_TO is the Reply-To of a verification mail
# (privacy+<token>@<reply domain>), FROM the address the request was
# filed with. With CA_FILE the listener's certificate is verified against
# it (a test CA); without, TLS is required but not verified, as most MTAs
# deliver to an MX. swaks exits non-zero when the listener refuses.
set -eu

if [ $# -lt 3 ]; then
	sed -n '2,12s/^# \{0,1\}//p' "$0" >&2
	exit 2
fi
server=$1 to=$2 from=$3 ca=${4:-}
command -v swaks >/dev/null || { echo "swaks is not installed (apt-get install swaks)" >&2; exit 2; }

set -- --server "$server" --tls --ehlo mx.example.com \
	--from "$from" --to "$to" \
	--header "Subject: Re: Please confirm your request" \
	--body "Yes, that was me."
if [ -n "$ca" ]; then
	set -- "$@" --tls-verify --tls-ca-path "$ca"
fi
exec swaks "$@"
