# Varnish in front of `techpotli serve`: caches the public `GET /graphql` responses by URL and
# media type, tags them with the server's surrogate keys (vmod xkey), and takes purges by key from
# the server (`CDN_PURGER=varnish`, `CDN_PURGE_URLS=http://<this varnish>:<port>`).
#
# Needs Varnish 7 and varnish-modules (xkey). Start:
#   varnishd -a :6081 -f /etc/varnish/techpotli.vcl -s malloc,1G
# Production: point `backend origin` at your instances (or a director over them), and list the
# servers that send purges in `acl purgers`.
vcl 4.1;

import std;
import xkey;

backend origin {
    .host = "127.0.0.1";
    .port = "8080";
    .connect_timeout = 1s;
    .first_byte_timeout = 15s;
    .probe = {
        .url = "/healthz";
        .interval = 2s;
        .timeout = 1s;
        .window = 3;
        .threshold = 2;
    }
}

# Who may purge: the API servers (their worker sends the purges).
acl purgers {
    "127.0.0.1";
    "::1";
}

sub vcl_recv {
    if (req.method == "PURGE") {
        if (client.ip !~ purgers) {
            return (synth(403, "Forbidden"));
        }
        # Soft: the object's TTL ends but it is kept for grace, served only while the origin is
        # sick (see req.grace below). Hard: gone.
        if (req.http.xkey-softpurge) {
            set req.http.n-gone = xkey.softpurge(req.http.xkey-softpurge);
        } elsif (req.http.xkey-purge) {
            set req.http.n-gone = xkey.purge(req.http.xkey-purge);
        } else {
            return (synth(400, "xkey-purge or xkey-softpurge header required"));
        }
        return (synth(200, "Invalidated " + req.http.n-gone + " objects"));
    }
    # Admin subscriptions (graphql-transport-ws) go straight through.
    if (req.http.Upgrade ~ "(?i)websocket") {
        return (pipe);
    }
    # Only anonymous GraphQL queries over GET are shared; everything else goes to the origin.
    if ((req.method != "GET" && req.method != "HEAD") || req.url !~ "^/graphql\?"
        || req.http.Authorization) {
        return (pass);
    }
    unset req.http.Cookie;
    # Two media types, two variants (the server answers `Vary: Accept`): the same rule as the
    # server's negotiation, so odd Accept headers do not multiply the copies.
    if (req.http.Accept ~ "application/graphql-response\+json"
        && req.http.Accept !~ "application/json.*application/graphql-response\+json") {
        set req.http.Accept = "application/graphql-response+json";
    } else {
        set req.http.Accept = "application/json";
    }
    # While the origin is healthy nothing stale is served: a purged object is fetched again
    # (concurrent requests for it wait for that one fetch). When it is sick, grace serves the
    # last copy for up to a day.
    if (std.healthy(req.backend_hint)) {
        set req.grace = 0s;
    }
    return (hash);
}

sub vcl_pipe {
    if (req.http.Upgrade) {
        set bereq.http.Upgrade = req.http.Upgrade;
        set bereq.http.Connection = req.http.Connection;
    }
}

sub vcl_backend_response {
    # The server's edge TTL (sent only when it purges this CDN) wins over the browsers' max-age.
    if (beresp.http.Surrogate-Control ~ "max-age=[0-9]+") {
        set beresp.ttl = std.duration(
            regsub(beresp.http.Surrogate-Control, "^.*max-age=([0-9]+).*$", "\1s"), beresp.ttl);
    }
    if (beresp.http.Surrogate-Key) {
        set beresp.http.xkey = beresp.http.Surrogate-Key;
    }
    set beresp.grace = 24h;
    unset beresp.http.Surrogate-Control;
}

sub vcl_deliver {
    # Tags are for this cache, not for browsers. An object may sit here long past the browsers'
    # max-age and still be fresh (it is purged on change), so its Age is not passed on.
    unset resp.http.xkey;
    unset resp.http.Surrogate-Key;
    unset resp.http.Age;
    if (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
}
