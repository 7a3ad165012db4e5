//! A forward's streams to its pod, opened ahead of the connections that
//! use them. Each port-forward stream costs a round trip through the API
//! server to the kubelet and the container runtime before a byte moves;
//! one stream to the current pod is kept open as a spare, so a new
//! connection starts at once, and a new spare is opened as soon as the
//! forward moves to a new pod (before any connection asks for it).
//!
//! A spare is given to a connection only while it is for the current pod,
//! younger than [`SPARE_MAX_AGE`] and not closed by the pod; anything the
//! pod sent on it before (a protocol where the server speaks first) goes
//! to the connection first. Connections that find no spare wait for the
//! streams being opened (one more is opened for each of them), in order.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt as _, StreamExt as _};
use tokio::io::AsyncReadExt as _;

/// How long an unused spare is kept: servers may close connections that
/// send no request for a while (Node's headers timeout, 60 s by default).
const SPARE_MAX_AGE: Duration = Duration::from_secs(30);

/// After a stream failed to open, spares wait this long before the next
/// try (connections that ask still get their own try).
const SPARE_RETRY: Duration = Duration::from_secs(1);

/// A stream to a pod and what keeps it open.
pub(crate) trait Stream: Send + 'static {
    /// The byte stream.
    type Io: tokio::io::AsyncRead + Unpin + Send;
    /// The byte stream, to check a spare and to carry a connection.
    fn io(&mut self) -> &mut Self::Io;
    /// Whether the far side reported the stream unusable.
    fn broken(&mut self) -> bool {
        false
    }
}

/// An open stream.
pub(crate) struct Opened<S> {
    /// The stream.
    pub(crate) stream: S,
    /// What the pod sent before a connection took it.
    pub(crate) early: Vec<u8>,
    at: Instant,
}

/// What a connection that waited gets.
pub(crate) type Handed<C, S> = (C, Result<Opened<S>, String>);

/// Opens a stream to a pod.
pub(crate) type Open<S> = Box<dyn Fn(&str) -> BoxFuture<'static, Result<S, String>> + Send>;

/// The spare, the streams being opened and the connections waiting for one.
pub(crate) struct Streams<C, S> {
    open: Open<S>,
    /// The pod new connections go to, when there is one.
    pod: Option<String>,
    spare: Option<Opened<S>>,
    opening: FuturesUnordered<BoxFuture<'static, (String, Result<S, String>)>>,
    /// The pod of each stream being opened.
    opening_for: Vec<String>,
    waiting: VecDeque<C>,
    failed_at: Option<Instant>,
}

impl<C, S: Stream> Streams<C, S> {
    /// No pod yet.
    pub(crate) fn new(open: Open<S>) -> Self {
        Self {
            open,
            pod: None,
            spare: None,
            opening: FuturesUnordered::new(),
            opening_for: Vec::new(),
            waiting: VecDeque::new(),
            failed_at: None,
        }
    }

    /// New connections go to `pod` from now on (`None`: nowhere yet, they
    /// wait): a spare for another pod is closed and one for `pod` opened.
    pub(crate) fn retarget(&mut self, pod: Option<&str>) -> Vec<Handed<C, S>> {
        if self.pod.as_deref() != pod {
            self.pod = pod.map(str::to_owned);
            self.spare = None;
            self.failed_at = None;
        }
        self.dispatch()
    }

    /// `connection` wants a stream to the current pod: given one now when a
    /// spare is there, else when one is opened.
    pub(crate) fn connect(&mut self, connection: C) -> Vec<Handed<C, S>> {
        self.waiting.push_back(connection);
        self.dispatch()
    }

    /// The connections waiting, taken out (to be refused).
    pub(crate) fn drain_waiting(&mut self) -> Vec<C> {
        self.waiting.drain(..).collect()
    }

    /// Waits for the next stream being opened; what it hands out. Never
    /// ends while nothing is being opened.
    pub(crate) async fn opened(&mut self) -> Vec<Handed<C, S>> {
        let Some((pod, result)) = self.opening.next().await else {
            return std::future::pending().await;
        };
        if let Some(i) = self.opening_for.iter().position(|p| *p == pod) {
            self.opening_for.swap_remove(i);
        }
        let mut handed = Vec::new();
        if self.pod.as_deref() != Some(pod.as_str()) {
            // Opened for a pod the forward has left.
            return self.dispatch();
        }
        match result {
            Ok(stream) => {
                // The older spare goes: this one is fresher.
                self.spare = Some(Opened {
                    stream,
                    early: Vec::new(),
                    at: Instant::now(),
                });
            }
            Err(error) => {
                self.failed_at = Some(Instant::now());
                if let Some(connection) = self.waiting.pop_front() {
                    handed.push((connection, Err(error)));
                }
            }
        }
        handed.extend(self.dispatch());
        handed
    }

    /// Gives spares to waiting connections and opens what is missing: one
    /// stream per waiting connection, plus a spare.
    fn dispatch(&mut self) -> Vec<Handed<C, S>> {
        let mut handed = Vec::new();
        let Some(pod) = self.pod.clone() else {
            return handed;
        };
        while !self.waiting.is_empty() {
            let Some(spare) = self.take_spare() else {
                break;
            };
            let connection = self.waiting.pop_front().expect("not empty");
            handed.push((connection, Ok(spare)));
        }
        let spare_wanted = usize::from(
            self.spare.is_none() && self.failed_at.is_none_or(|t| t.elapsed() >= SPARE_RETRY),
        );
        let underway = self.opening_for.iter().filter(|p| **p == pod).count();
        for _ in underway..self.waiting.len() + spare_wanted {
            let opening = (self.open)(&pod);
            let for_pod = pod.clone();
            self.opening
                .push(async move { (for_pod, opening.await) }.boxed());
            self.opening_for.push(pod.clone());
        }
        handed
    }

    /// The spare, when it is still good: young, and not closed by the pod.
    fn take_spare(&mut self) -> Option<Opened<S>> {
        let mut spare = self.spare.take()?;
        if spare.at.elapsed() > SPARE_MAX_AGE || spare.stream.broken() {
            return None;
        }
        let mut buffer = [0_u8; 4096];
        loop {
            match spare.stream.io().read(&mut buffer).now_or_never() {
                // Nothing to read yet: open, as a fresh stream is.
                None => return Some(spare),
                Some(Ok(0) | Err(_)) => return None,
                Some(Ok(n)) => spare.early.extend_from_slice(&buffer[..n]),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncWriteExt as _, DuplexStream};

    use super::*;

    struct Fake {
        io: DuplexStream,
        pod: String,
    }

    impl Stream for Fake {
        type Io = DuplexStream;
        fn io(&mut self) -> &mut DuplexStream {
            &mut self.io
        }
    }

    /// Streams whose opens are recorded; the pod's end of each kept in
    /// `ends` (pod, end) so a test can speak or hang up as the pod.
    /// Each stream opened: its pod, and the pod's end.
    type Ends = Arc<Mutex<Vec<(String, DuplexStream)>>>;

    fn streams(fail: bool) -> (Streams<&'static str, Fake>, Ends) {
        let ends = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&ends);
        let open: Open<Fake> = Box::new(move |pod: &str| {
            let (io, end) = tokio::io::duplex(1024);
            kept.lock().unwrap().push((pod.to_owned(), end));
            let pod = pod.to_owned();
            async move {
                if fail {
                    Err("refused".to_owned())
                } else {
                    Ok(Fake { io, pod })
                }
            }
            .boxed()
        });
        (Streams::new(open), ends)
    }

    fn pods(handed: &[Handed<&'static str, Fake>]) -> Vec<(&'static str, String)> {
        handed
            .iter()
            .map(|(c, r)| {
                let to = match r {
                    Ok(o) => o.stream.pod.clone(),
                    Err(e) => format!("error: {e}"),
                };
                (*c, to)
            })
            .collect()
    }

    fn opened_for(ends: &Mutex<Vec<(String, DuplexStream)>>) -> Vec<String> {
        ends.lock()
            .unwrap()
            .iter()
            .map(|(p, _)| p.clone())
            .collect()
    }

    #[tokio::test]
    async fn a_spare_is_opened_for_each_new_pod_and_the_first_connection_takes_it() {
        let (mut streams, ends) = streams(false);
        // Connections before any pod wait, and open nothing.
        assert!(streams.connect("early").is_empty());
        assert!(opened_for(&ends).is_empty());
        // The pod arrives: one stream for the waiting connection, one spare.
        assert!(streams.retarget(Some("pod-1")).is_empty());
        assert_eq!(opened_for(&ends), ["pod-1", "pod-1"]);
        assert_eq!(
            pods(&streams.opened().await),
            [("early", "pod-1".to_owned())]
        );
        assert!(streams.opened().await.is_empty());
        // The spare is there: the next connection goes at once, and a new
        // spare is opened.
        assert_eq!(
            pods(&streams.connect("next")),
            [("next", "pod-1".to_owned())]
        );
        assert_eq!(opened_for(&ends).len(), 3);
        assert!(streams.opened().await.is_empty());
        // The forward moves: the old spare goes, one for the new pod is opened
        // before any connection asks.
        assert!(streams.retarget(Some("pod-2")).is_empty());
        assert_eq!(opened_for(&ends)[3..], ["pod-2"]);
        assert!(streams.opened().await.is_empty());
        assert_eq!(
            pods(&streams.connect("after")),
            [("after", "pod-2".to_owned())]
        );
    }

    #[tokio::test]
    async fn a_stream_opened_for_a_pod_left_behind_is_not_used() {
        let (mut streams, ends) = streams(false);
        streams.retarget(Some("pod-1"));
        streams.connect("c");
        // The forward moves while the streams to pod-1 are being opened.
        streams.retarget(Some("pod-2"));
        let mut handed = Vec::new();
        while handed.is_empty() {
            handed = streams.opened().await;
        }
        assert_eq!(pods(&handed), [("c", "pod-2".to_owned())]);
        // The one for the waiting connection and the spare, again for pod-2.
        assert_eq!(opened_for(&ends), ["pod-1", "pod-1", "pod-2", "pod-2"]);
    }

    #[tokio::test]
    async fn a_spare_the_pod_closed_is_dropped_and_what_it_sent_is_kept() {
        let (mut streams, ends) = streams(false);
        streams.retarget(Some("pod-1"));
        streams.opened().await;
        // The pod hangs up on the spare: the connection waits for a new stream.
        ends.lock().unwrap().clear();
        assert!(streams.connect("c").is_empty());
        assert_eq!(pods(&streams.opened().await), [("c", "pod-1".to_owned())]);
        while streams.spare.is_none() {
            streams.opened().await;
        }
        // A pod that speaks first: its greeting goes to the connection.
        let (_, mut end) = ends.lock().unwrap().remove(1);
        end.write_all(b"hello").await.unwrap();
        let handed = streams.connect("d");
        let (_, Ok(opened)) = &handed[0] else {
            panic!("no stream")
        };
        assert_eq!(opened.early, b"hello");
    }

    #[tokio::test]
    async fn a_failed_open_is_the_waiting_connections_error_and_spares_wait() {
        let (mut streams, ends) = streams(true);
        streams.retarget(Some("pod-1"));
        streams.connect("c");
        let mut handed = Vec::new();
        while handed.is_empty() {
            handed = streams.opened().await;
        }
        assert_eq!(pods(&handed), [("c", "error: refused".to_owned())]);
        streams.opened().await;
        // No spare is tried again within SPARE_RETRY; a connection still gets its try.
        assert_eq!(opened_for(&ends).len(), 2);
        streams.connect("d");
        assert_eq!(opened_for(&ends).len(), 3);
    }
}
