//! A forward proxy from the environment (`HTTP_PROXY`, `HTTPS_PROXY`,
//! `ALL_PROXY`, with `NO_PROXY`) carries the API proxy's requests, as it always
//! has: issue 20 moved API traffic to hyper's client, which knows no such
//! variables, and keeps reqwest for it when one is set. Against the real binary,
//! since the variables are read from the process environment.

mod common;

use common::binary::{BrokerProcess, closed_port_url};
use common::forward_proxy::{BODY, ForwardProxy, TOKEN};
use common::{get, http_client};

/// With `HTTP_PROXY` set, a proxied request reaches the API through it, with
/// the broker's token (here, one the token endpoint gave through it as well),
/// although nothing listens at the API's own address.
#[tokio::test]
async fn api_requests_go_through_the_forward_proxy_in_http_proxy() {
    let forward = ForwardProxy::start().await;
    let token_url = closed_port_url().await;
    let api = token_url.trim_end_matches("token").to_owned();
    let env = [
        ("OAUTH_PROVIDER", "generic"),
        ("OAUTH_TOKEN_URL", token_url.as_str()),
        ("OAUTH_CLIENT_ID", "broker"),
        ("OAUTH_CLIENT_SECRET", "broker-secret"),
        ("PROXY_API", &format!("api={api}")),
        ("HTTP_PROXY", forward.url()),
    ];
    let broker = BrokerProcess::start(&[], &env).await;
    let reply = get(&http_client(), &broker.url("/api/proxy/api/models/a.glb?v=1")).await;
    assert_eq!((reply.status, reply.body.as_str()), (200, BODY), "{reply:?}");
    let heads = forward.heads();
    let api_head = heads
        .iter()
        .find(|head| head.starts_with(&format!("GET {api}models/a.glb?v=1 HTTP/1.1\r\n")))
        .unwrap_or_else(|| panic!("no API request through the forward proxy: {heads:?}"));
    assert!(
        api_head.to_ascii_lowercase().contains(&format!("authorization: bearer {TOKEN}").to_ascii_lowercase()),
        "{api_head}"
    );
}
