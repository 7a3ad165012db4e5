//! Port forwards: a TCP listener on 127.0.0.1 per forwarded service, each
//! connection carried to a Ready pod of the release's Service through the
//! API server's port-forward (kube-rs), so it works where node ports are
//! not reachable from the host. Watches of the Service and of the pods it
//! selects keep the target current: the newest Ready pod that is not
//! terminating, so a new pod takes the next connection as soon as it is
//! Ready, while the old one may still be going. One stream to that pod is
//! opened ahead ([`super::streams`]), so a connection need not wait for it.

use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;

use futures::stream::{BoxStream, FuturesUnordered};
use futures::{FutureExt as _, Stream, StreamExt as _};
use hoist_config::{Publish, Stack};
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::Api;
use kube::api::Portforwarder;
use kube::runtime::reflector::store::Writer;
use kube::runtime::{WatchStreamExt as _, watcher};
use tokio::io::{AsyncWriteExt as _, DuplexStream};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::streams::{self, Opened, Streams};
use super::{DevEvent, DevReporter};
use crate::{Error, Result, plan};

/// One forwarded service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Forward {
    /// The service.
    pub(crate) service: String,
    /// Its release (and Service object) name.
    pub(crate) release: String,
    /// The port on 127.0.0.1.
    pub(crate) local: u16,
    /// The pods' port.
    pub(crate) remote: u16,
}

/// The forwards of `services`: those with `forward`, else those that
/// `publish`, then `extra` (service, local port) adding or moving one.
///
/// # Errors
///
/// [`Error::NoForwardPort`] for a forwarded service without `ports`;
/// [`Error::UnknownService`] for an `extra` service not selected.
pub(crate) fn plan(
    stack: &Stack,
    services: &[String],
    extra: &[(String, u16)],
) -> Result<Vec<Forward>> {
    let any_forward = services
        .iter()
        .any(|s| stack.services.get(s).is_some_and(|d| d.forward.is_some()));
    let mut forwards = Vec::new();
    let mut add = |service: &str, local: Option<u16>| -> Result<()> {
        let definition = &stack.services[service];
        let Some(&remote) = definition.ports.first() else {
            return Err(Error::NoForwardPort {
                service: service.to_owned(),
                file: stack.path.clone(),
            });
        };
        let local = local.unwrap_or(remote);
        forwards.retain(|f: &Forward| f.service != service);
        forwards.push(Forward {
            service: service.to_owned(),
            release: plan::release_name(stack, service),
            local,
            remote,
        });
        Ok(())
    };
    for service in services {
        let definition = &stack.services[service];
        let setting = if any_forward {
            definition.forward.as_ref()
        } else {
            definition.publish.as_ref()
        };
        match setting.map(toml::Spanned::get_ref) {
            None | Some(Publish::No) => {}
            Some(Publish::Port(port)) if any_forward => add(service, Some(*port))?,
            // `true`, or a Docker host port (not a local forward's): the pods' own number.
            Some(Publish::Same | Publish::Port(_)) => add(service, None)?,
        }
    }
    for (service, port) in extra {
        if !services.contains(service) {
            return Err(Error::UnknownService {
                name: service.clone(),
                file: stack.path.clone(),
                known: services.join(", "),
            });
        }
        add(service, Some(*port))?;
    }
    Ok(forwards)
}

/// Binds every forward's local port, before anything is built.
///
/// # Errors
///
/// [`Error::Forward`] naming the port that is taken.
pub(crate) fn bind(forwards: &[Forward]) -> Result<Vec<TcpListener>> {
    forwards
        .iter()
        .map(|f| {
            let failed = |cause| Error::Forward {
                service: f.service.clone(),
                port: f.local,
                cause,
            };
            let socket =
                std::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, f.local)))
                    .map_err(failed)?;
            socket.set_nonblocking(true).map_err(failed)?;
            TcpListener::from_std(socket).map_err(failed)
        })
        .collect()
}

/// Where a forward's new connections go.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// The watches have not listed the Service and its pods yet.
    Syncing,
    /// This pod.
    Pod(String),
    /// No pod to go to, and why.
    Nowhere(String),
}

/// Accepts connections on `listener` for as long as it is polled, each
/// carried to the pod the watches of `forward`'s Service name last, on a
/// stream opened ahead where one is ready ([`streams`](super::streams)).
pub(crate) async fn serve(
    listener: TcpListener,
    client: &kube::Client,
    namespace: &str,
    forward: &Forward,
    reporter: &dyn DevReporter,
) {
    let pods = Api::<Pod>::namespaced(client.clone(), namespace);
    let remote = forward.remote;
    let mut streams = Streams::<TcpStream, PodStream>::new(Box::new(move |pod: &str| {
        let (pods, pod) = (pods.clone(), pod.to_owned());
        async move { PodStream::open(&pods, &pod, remote).await }.boxed()
    }));
    let (target, mut chosen) = watch::channel(Target::Syncing);
    let mut following =
        std::pin::pin!(follow(client, namespace, forward, reporter, &target).fuse());
    let mut open = FuturesUnordered::new();
    let failed = |error: String| {
        reporter.on_dev(&DevEvent::ForwardFailed {
            service: forward.service.clone(),
            error,
        });
    };
    loop {
        let handed = tokio::select! {
            () = &mut following => Vec::new(),
            Ok(()) = chosen.changed() => {
                let now = chosen.borrow_and_update().clone();
                match now {
                    Target::Pod(pod) => streams.retarget(Some(&pod)),
                    Target::Syncing => streams.retarget(None),
                    Target::Nowhere(why) => {
                        for _refused in streams.drain_waiting() {
                            failed(why.clone());
                        }
                        streams.retarget(None)
                    }
                }
            }
            accepted = listener.accept() => {
                let Ok((connection, _)) = accepted else { continue };
                if let Target::Nowhere(why) = &*chosen.borrow() {
                    failed(why.clone());
                    continue;
                }
                streams.connect(connection)
            }
            handed = streams.opened() => handed,
            Some(()) = open.next(), if !open.is_empty() => Vec::new(),
        };
        for (connection, stream) in handed {
            match stream {
                Ok(opened) => open.push(carry(connection, opened)),
                Err(error) => failed(error),
            }
        }
    }
}

/// A port-forward stream to one pod's port.
struct PodStream {
    forwarder: Portforwarder,
    io: DuplexStream,
    /// Resolves when the kubelet reports the port unusable, or the stream ends.
    error: futures::future::BoxFuture<'static, Option<String>>,
}

impl PodStream {
    async fn open(pods: &Api<Pod>, pod: &str, port: u16) -> Result<Self, String> {
        let mut forwarder = pods
            .portforward(pod, &[port])
            .await
            .map_err(|e| format!("port-forward to pod {pod} port {port}: {e}"))?;
        let gave_none = || format!("port-forward to pod {pod} gave no stream");
        let io = forwarder.take_stream(port).ok_or_else(gave_none)?;
        let error = forwarder.take_error(port).ok_or_else(gave_none)?.boxed();
        Ok(Self {
            forwarder,
            io,
            error,
        })
    }
}

impl streams::Stream for PodStream {
    type Io = DuplexStream;

    fn io(&mut self) -> &mut DuplexStream {
        &mut self.io
    }

    fn broken(&mut self) -> bool {
        (&mut self.error).now_or_never().is_some()
    }
}

impl Drop for PodStream {
    fn drop(&mut self) {
        self.forwarder.abort();
    }
}

/// One connection, over `opened`: what the pod sent early first.
async fn carry(mut connection: TcpStream, mut opened: Opened<PodStream>) {
    if !opened.early.is_empty() && connection.write_all(&opened.early).await.is_err() {
        return;
    }
    // A peer closing its side is the normal end of a connection.
    let _ = tokio::io::copy_bidirectional(&mut connection, &mut opened.stream.io).await;
}

/// Keeps `target` on the newest Ready, not terminating pod that the
/// release's Service selects: a watch of the Service (its selector) and
/// one of the pods it selects, both kept in stores, the target worked out
/// again on every event. Reports each new pod. Never ends by itself; a
/// dropped watch is resumed with backoff.
async fn follow(
    client: &kube::Client,
    namespace: &str,
    forward: &Forward,
    reporter: &dyn DevReporter,
    target: &watch::Sender<Target>,
) {
    let release = &forward.release;
    let services = Api::<Service>::namespaced(client.clone(), namespace);
    let config = watcher::Config::default().fields(&format!("metadata.name={release}"));
    let mut service_events = watcher(services, config).default_backoff().boxed();
    let mut service = Watched::<Service>::default();
    // The selector the pod watch runs with, and that watch.
    let mut selector: Option<String> = None;
    let mut pod_events: Option<BoxStream<'_, watcher::Result<watcher::Event<Pod>>>> = None;
    let mut pods = Watched::<Pod>::default();
    loop {
        tokio::select! {
            event = service_events.next() => {
                let Some(event) = event else { break };
                service.apply(event);
            }
            event = next(&mut pod_events) => {
                let Some(event) = event else { break };
                pods.apply(event);
            }
        }
        let wanted = service.synced.then(|| {
            service
                .store
                .as_reader()
                .state()
                .first()
                .map(|s| selector_of(s))
                .unwrap_or_default()
        });
        if wanted != selector {
            selector.clone_from(&wanted);
            pods = Watched::default();
            pod_events = wanted.filter(|s| !s.is_empty()).map(|labels| {
                let api = Api::<Pod>::namespaced(client.clone(), namespace);
                watcher(api, watcher::Config::default().labels(&labels))
                    .default_backoff()
                    .boxed()
            });
        }
        let now = match selector.as_deref() {
            None => Target::Syncing,
            Some(_) if service.store.as_reader().is_empty() => {
                Target::Nowhere(format!("no Service {release} in namespace {namespace} yet"))
            }
            Some("") => Target::Nowhere(format!("Service {release} selects no pods")),
            Some(_) if !pods.synced => Target::Syncing,
            Some(_) => newest_ready(&pods.store.as_reader().state()).map_or_else(
                || Target::Nowhere(format!("no Ready pod behind Service {release} yet")),
                Target::Pod,
            ),
        };
        let changed = target.send_if_modified(|t| {
            let changed = *t != now;
            *t = now.clone();
            changed
        });
        if let (true, Target::Pod(pod)) = (changed, now) {
            reporter.on_dev(&DevEvent::ForwardingTo {
                service: forward.service.clone(),
                pod,
            });
        }
    }
    target.send_replace(Target::Nowhere(format!(
        "the watch of Service {release} ended"
    )));
}

/// A watched kind's objects, and whether the first listing is in.
struct Watched<K: kube::Resource<DynamicType = ()> + Clone + 'static> {
    store: Writer<K>,
    synced: bool,
}

impl<K: kube::Resource<DynamicType = ()> + Clone + 'static> Default for Watched<K> {
    fn default() -> Self {
        Self {
            store: Writer::default(),
            synced: false,
        }
    }
}

impl<K: kube::Resource<DynamicType = ()> + Clone + 'static> Watched<K> {
    /// Applies one event; an error (the watcher retries by itself) changes nothing.
    fn apply(&mut self, event: watcher::Result<watcher::Event<K>>) {
        if let Ok(event) = event {
            self.synced |= matches!(event, watcher::Event::InitDone);
            self.store.apply_watcher_event(&event);
        }
    }
}

/// The next item of `stream`, or never when there is none.
async fn next<S: Stream + Unpin>(stream: &mut Option<S>) -> Option<S::Item> {
    match stream {
        Some(stream) => Pin::new(stream).next().await,
        None => std::future::pending().await,
    }
}

/// A Service's selector as a label selector (empty when it has none).
fn selector_of(service: &Service) -> String {
    service
        .spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .map(|labels| {
            labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// The newest Ready pod that is not terminating.
fn newest_ready(pods: &[std::sync::Arc<Pod>]) -> Option<String> {
    pods.iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none() && ready(p))
        .max_by_key(|p| {
            (
                p.metadata.creation_timestamp.clone(),
                p.metadata.name.clone(),
            )
        })
        .and_then(|p| p.metadata.name.clone())
}

fn ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(text: &str) -> Stack {
        Stack::parse(std::path::Path::new("hoist.toml"), text.to_owned(), None).unwrap()
    }

    fn names(forwards: &[Forward]) -> Vec<(String, u16, u16)> {
        forwards
            .iter()
            .map(|f| (f.service.clone(), f.local, f.remote))
            .collect()
    }

    #[test]
    fn published_services_by_default_forward_settings_when_any_and_extras_last() {
        let published = stack(
            "project = \"shop\"\n[services.api]\nports = [8000]\n[services.web]\nports = [3000]\npublish = 8080\n",
        );
        let all = ["api".to_owned(), "web".to_owned()];
        assert_eq!(
            names(&plan(&published, &all, &[]).unwrap()),
            [("web".to_owned(), 3000, 3000)]
        );
        assert_eq!(
            names(&plan(&published, &all, &[("api".to_owned(), 9000)]).unwrap()),
            [
                ("web".to_owned(), 3000, 3000),
                ("api".to_owned(), 9000, 8000)
            ]
        );
        let forwarded = stack(
            "project = \"shop\"\n[services.api]\nports = [8000]\nforward = true\n[services.web]\nports = [3000]\npublish = true\nforward = 3100\n[services.db]\nports = [5432]\nforward = false\n",
        );
        let all = ["db".to_owned(), "api".to_owned(), "web".to_owned()];
        assert_eq!(
            names(&plan(&forwarded, &all, &[]).unwrap()),
            [
                ("api".to_owned(), 8000, 8000),
                ("web".to_owned(), 3100, 3000)
            ]
        );
    }

    #[test]
    fn a_forward_without_ports_or_to_an_unknown_service_is_named() {
        let stack = stack("project = \"shop\"\n[services.api]\nforward = true\n");
        let api = ["api".to_owned()];
        assert_eq!(
            plan(&stack, &api, &[]).unwrap_err().to_string(),
            "service `api` is to be forwarded but declares no `ports` in hoist.toml; add `ports = [PORT]` (the port its pods listen on) to [services.api]"
        );
        assert_eq!(
            plan(&stack, &[], &[("web".to_owned(), 1)])
                .unwrap_err()
                .to_string(),
            "no service `web` in hoist.toml; the services are: "
        );
    }

    #[test]
    fn a_taken_port_is_named_with_the_fix() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let forward = Forward {
            service: "web".to_owned(),
            release: "shop-web".to_owned(),
            local: port,
            remote: 3000,
        };
        let error = bind(&[forward]).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!(
                "cannot listen on 127.0.0.1:{port} to forward service `web`: "
            )) && error.ends_with(
                "pick another with --port web=PORT (or `forward = PORT` under [services.web])"
            ),
            "{error}"
        );
    }
}
