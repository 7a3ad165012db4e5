//! The readiness wait against kube-rs's tower-test mock API server, for the
//! sequences the real cluster does not produce on demand: a watch that
//! drops mid-wait, and an API server that times out mid-wait.

use std::time::Duration;

use http::{Request, Response};
use k8s_openapi::jiff::Timestamp;
use kube::client::Body;
use serde_json::{Value, json};

use super::events::NoReporter;
use super::manifest::{Kind, Owned};
use super::outcome::Cause;
use super::wait::Wait;

fn deployment(ready: i32, rv: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "ns", "generation": 2, "resourceVersion": rv},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "template": {}},
        "status": {"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1, "readyReplicas": ready, "availableReplicas": ready}
    })
}

fn respond(status: u16, body: Vec<u8>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap()
}

fn list(items: &[Value]) -> Response<Body> {
    respond(200, serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "1"}, "items": items})).unwrap())
}

/// How the mock answers the Deployment watch, the n-th time it is asked.
type Script = fn(usize) -> Option<Response<Body>>;

/// Serves lists (the Deployment not ready yet, everything else empty) and
/// the Deployment watch by `script`; other watches hang, as quiet ones do.
async fn serve(
    mut handle: tower_test::mock::Handle<Request<Body>, Response<Body>>,
    script: Script,
) {
    let mut watches = 0;
    let mut quiet = Vec::new();
    while let Some((request, send)) = handle.next_request().await {
        let uri = request.uri().to_string();
        let is_deployments = uri.contains("/deployments");
        if !uri.contains("watch=true") {
            let items = if is_deployments {
                vec![deployment(0, "1")]
            } else {
                Vec::new()
            };
            send.send_response(list(&items));
        } else if is_deployments {
            watches += 1;
            match script(watches) {
                Some(response) => send.send_response(response),
                None => quiet.push(send),
            }
        } else {
            quiet.push(send);
        }
    }
}

async fn wait_with(script: Script, deadline: Duration) -> super::wait::Waited {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(service, "ns");
    let server = tokio::spawn(serve(handle, script));
    let owned = [Owned {
        kind: Kind::Deployment,
        name: "web".into(),
        pods: Some("app=web".into()),
    }];
    let waited = Wait {
        client: &client,
        namespace: "ns",
        service: "web",
        image: None,
        owned: &owned,
        deadline,
        crashloop_restarts: 2,
        until: super::Until::Settled,
        since: Timestamp::now(),
        reporter: &NoReporter,
    }
    .run()
    .await;
    server.abort();
    waited
}

#[tokio::test]
async fn a_watch_that_drops_is_resumed_and_the_wait_still_sees_ready() {
    let waited = wait_with(
        |n| match n {
            // The first watch sends one change and drops.
            1 => {
                let event = json!({"type": "MODIFIED", "object": deployment(0, "2")});
                Some(respond(200, format!("{event}\n").into_bytes()))
            }
            // The resumed watch brings the Ready status.
            2 => {
                let event = json!({"type": "MODIFIED", "object": deployment(1, "3")});
                Some(respond(200, format!("{event}\n").into_bytes()))
            }
            _ => None,
        },
        Duration::from_secs(20),
    )
    .await;
    assert!(waited.findings.is_empty(), "{:#?}", waited.findings);
    assert_eq!((waited.replicas.ready, waited.replicas.desired), (1, 1));
}

#[tokio::test]
async fn an_api_server_that_times_out_mid_wait_ends_at_the_deadline_naming_the_error() {
    let waited = wait_with(
        |_| {
            let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                "message": "the server was unable to return a response in the time allotted", "reason": "Timeout", "code": 504});
            Some(respond(504, serde_json::to_vec(&status).unwrap()))
        },
        Duration::from_secs(3),
    )
    .await;
    let deadline = waited
        .findings
        .iter()
        .find(|f| f.cause == Cause::DeadlineExceeded)
        .unwrap_or_else(|| panic!("{:#?}", waited.findings));
    assert!(
        deadline
            .message
            .starts_with("not Ready after 3s: Deployment/web (0 of 1 replicas ready, 0 available)"),
        "{}",
        deadline.message
    );
    assert!(
        deadline.message.contains("the last API error was"),
        "{}",
        deadline.message
    );
    assert!(
        deadline
            .message
            .contains("unable to return a response in the time allotted"),
        "{}",
        deadline.message
    );
}
