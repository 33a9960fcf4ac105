//! Credentials: private keys, bearer tokens, JWTs, API keys, `key=value`
//! pairs, URLs with user-info or a query, connection strings and cloud
//! credentials, webhooks.

use proptest::prelude::*;
use proptest::sample::select;

use super::Planted;

pub(crate) fn private_key() -> impl Strategy<Value = Planted> {
    (
        select(vec!["", "RSA ", "EC ", "OPENSSH ", "ENCRYPTED ", "DSA "]),
        prop::collection::vec("[A-Za-z0-9+/]{16,64}", 1..5),
        select(vec!["\n", "\r\n", "\\n"]),
        any::<bool>(),
    )
        .prop_map(|(kind, lines, newline, complete)| {
            let mut text = format!("-----BEGIN {kind}PRIVATE KEY-----{newline}");
            text.push_str(&lines.join(newline));
            if complete {
                text.push_str(&format!("{newline}-----END {kind}PRIVATE KEY-----"));
            }
            Planted::new("private key", text, lines)
        })
}

pub(crate) fn bearer() -> impl Strategy<Value = Planted> {
    (
        select(vec!["Bearer", "bearer", "BEARER"]),
        "[A-Za-z0-9]{4,24}[0-9._~+/-][A-Za-z0-9._~+/-]{3,30}",
        select(vec!["", "=", "=="]),
    )
        .prop_map(|(word, token, pad)| {
            let text = format!("{word} {token}{pad}");
            Planted::new("bearer", text, vec![token])
        })
}

pub(crate) fn jwt() -> impl Strategy<Value = Planted> {
    (
        "[A-Za-z0-9_-]{10,40}",
        "[A-Za-z0-9_-]{10,60}",
        "[A-Za-z0-9_-]{16,60}",
    )
        .prop_map(|(header, payload, signature)| {
            let text = format!("eyJ{header}.eyJ{payload}.{signature}");
            Planted::new("jwt", text, vec![format!("eyJ{payload}"), signature])
        })
}

pub(crate) fn api_key() -> impl Strategy<Value = Planted> {
    prop_oneof![
        "gh[pousr]_[A-Za-z0-9]{36}",
        "github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}",
        "(AKIA|ASIA)[A-Z0-9]{16}",
        "xox[abprs]-[0-9]{10,13}-[0-9]{10,13}-[A-Za-z0-9]{24}",
        "AIza[0-9A-Za-z_-]{35}",
        "sk-[A-Za-z]{4,10}[0-9][A-Za-z0-9]{20,40}",
        "sk_live_[A-Za-z0-9]{24}",
        "glpat-[A-Za-z0-9_-]{20}",
        "hf_[A-Za-z0-9]{34}",
        "npm_[A-Za-z0-9]{36}",
    ]
    .prop_map(|key| Planted::whole("api key", key))
}

pub(crate) fn key_value() -> impl Strategy<Value = Planted> {
    let keys = vec![
        "password",
        "passwd",
        "pwd",
        "secret",
        "token",
        "api_key",
        "apiKey",
        "client_secret",
        "access_token",
        "auth",
        "session_id",
        "private_key",
        "DB_PASSWORD",
        "x-api-key",
        "user.password",
        "sessionToken",
        "e-mail",
        "db_pass",
        "passcode",
        "pin",
        "zip",
        "city",
        "DATABASE_URL",
        "connectionString",
        "signing_key",
        "social_security_number",
        "AccountKey",
    ];
    let forms = vec![
        "{k}={v}",
        "{k}: {v}",
        "{k}:{v}",
        "{k} = {v}",
        "\"{k}\": \"{v}\"",
        "'{k}': '{v}'",
        "{k}=\"{v}\"",
        "{k}: Some(\"{v}\")",
        "\\\"{k}\\\": \\\"{v}\\\"",
    ];
    (
        select(keys),
        select(forms),
        "[A-Za-z0-9][A-Za-z0-9_.!#$%*+/=?^~@:-]{7,23}",
    )
        .prop_map(|(k, form, v)| {
            let text = form.replace("{k}", k).replace("{v}", &v);
            Planted::new("key=value", text, vec![v])
        })
}

pub(crate) fn url() -> impl Strategy<Value = Planted> {
    (
        select(vec![
            "https",
            "http",
            "ftp",
            "postgres",
            "redis",
            "mongodb+srv",
        ]),
        proptest::option::of(("[a-z][a-z0-9._-]{4,12}", "[A-Za-z0-9!$%*+,;=_-]{6,20}")),
        "[a-z0-9][a-z0-9-]{2,11}(\\.[a-z]{2,6}){1,2}",
        proptest::option::of(1024u16..65535),
        "(/[A-Za-z0-9._-]{1,10}){0,3}",
        proptest::option::of(prop::collection::vec(
            ("[a-z_]{2,8}", "[A-Za-z0-9_-]{6,20}"),
            1..3,
        )),
        proptest::option::of("[A-Za-z0-9_-]{6,16}"),
    )
        .prop_filter(
            "something to hide",
            |(_, userinfo, _, _, _, query, fragment)| {
                userinfo.is_some() || query.is_some() || fragment.is_some()
            },
        )
        .prop_map(|(scheme, userinfo, host, port, path, query, fragment)| {
            let mut text = format!("{scheme}://");
            let mut forbidden = Vec::new();
            if let Some((user, pass)) = userinfo {
                text.push_str(&format!("{user}:{pass}@"));
                forbidden.push(format!("{user}:"));
                forbidden.push(pass);
            }
            text.push_str(&host);
            if let Some(port) = port {
                text.push_str(&format!(":{port}"));
            }
            text.push_str(&path);
            if let Some(query) = query {
                let pairs: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
                text.push('?');
                text.push_str(&pairs.join("&"));
                forbidden.extend(query.into_iter().map(|(_, v)| v));
            }
            if let Some(fragment) = fragment {
                text.push('#');
                text.push_str(&fragment);
                forbidden.push(fragment);
            }
            Planted::new("url", text, forbidden)
        })
}

/// A connection string or cloud credential: ADO.NET and ODBC fields (a
/// password with blanks, or in braces with `;` and `}}`), a URL whose password
/// holds an `@`, Oracle JDBC, Azure storage and Service Bus keys, a shared access
/// signature, an AWS secret access key after its name or its key id.
pub(crate) fn connection_string() -> impl Strategy<Value = Planted> {
    let forms = vec![
        "Server={h};Database=app;User Id={u};Password={w} {x};Encrypt=true",
        "Password={w} {x};Server={h}",
        "Driver={ODBC Driver 18};Server={h};UID={u};PWD={{w};}}{x}};",
        "{s}://{u}:{w}@{x}@{h}/app",
        "jdbc:oracle:thin:{u}/{w}{x}@{h}:1521:orcl",
        "jdbc:sqlserver://{h}:1433;databaseName=app;user={u};password={w}{x};",
        "DefaultEndpointsProtocol=https;AccountName={u};AccountKey={k};EndpointSuffix=core.windows.net",
        "Endpoint=sb://{h}/;SharedAccessKeyName=Root;SharedAccessKey={k}",
        "sv=2022-11-02&ss=b&sp=rl&se=2026-12-01&sig={g}",
        "aws_secret_access_key = {a}",
        "--aws-secret-access-key {a}",
        "AKIA{I}:{a}",
    ];
    (
        select(forms),
        "[a-z][a-z0-9]{3,8}\\.example\\.(com|net)",
        "[a-z][a-z0-9_]{3,9}",
        "[A-Za-z0-9!%*+_.-]{6,14}",
        "[A-Za-z0-9]{6,10}",
        "[A-Za-z0-9+/]{86}==",
        "[A-Za-z0-9%]{30,44}",
        "[A-Za-z0-9/+]{40}",
        "[A-Z0-9]{16}",
        select(vec!["postgres", "mongodb+srv", "redis", "mysql", "amqp"]),
    )
        .prop_map(|(form, h, u, w, x, k, g, a, id, scheme)| {
            let text = form
                .replace("{h}", &h)
                .replace("{u}", &u)
                .replace("{w}", &w)
                .replace("{x}", &x)
                .replace("{k}", &k)
                .replace("{g}", &g)
                .replace("{a}", &a)
                .replace("{I}", &id)
                .replace("{s}", scheme);
            let forbidden = if form.contains("{k}") {
                vec![k]
            } else if form.contains("{g}") {
                vec![g]
            } else if form.contains("{a}") {
                vec![a]
            } else {
                vec![w, x]
            };
            Planted::new("connection string", text, forbidden)
        })
}

/// A webhook URL whose path is the secret (Slack, Discord, Teams, Zapier,
/// Telegram, Mattermost), with or without a scheme.
pub(crate) fn webhook() -> impl Strategy<Value = Planted> {
    let forms = vec![
        "https://hooks.slack.com/services/T{U}/B{U}/{t}",
        "hooks.slack.com/services/T{U}/B{U}/{t}",
        "https://discord.com/api/webhooks/{n}/{t}",
        "https://{h}.webhook.office.com/webhookb2/{t}@{U}/IncomingWebhook/{t}/{U}",
        "https://hooks.zapier.com/hooks/catch/{n}/{t}/",
        "https://api.telegram.org/bot{n}:{t}/sendMessage",
        "https://chat.{h}.com/hooks/{t}",
    ];
    (
        select(forms),
        "[A-Z0-9]{8,10}",
        "[a-z0-9]{26,40}",
        "[0-9]{9,18}",
        "[a-z][a-z0-9]{3,9}",
    )
        .prop_map(|(form, upper, token, n, h)| {
            let text = form
                .replace("{U}", &upper)
                .replace("{t}", &token)
                .replace("{n}", &n)
                .replace("{h}", &h);
            Planted::new("webhook", text, vec![token])
        })
}
