//! Opening the node's listening sockets.

use std::net::SocketAddr;

use tokio::net::TcpSocket;

use crate::error::NodeError;

/// Binds `n` listening sockets to `addr` with `SO_REUSEPORT`, one per data-plane thread, so the
/// kernel spreads new connections over the threads and no accept is shared. The first socket
/// resolves port 0; the others take the same port. `None` (listener off) binds nothing.
pub(crate) fn bind_per_thread(
    listener: &'static str,
    addr: Option<SocketAddr>,
    n: usize,
) -> Result<Vec<std::net::TcpListener>, NodeError> {
    let Some(mut at) = addr else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let bind = || -> std::io::Result<std::net::TcpListener> {
            let socket = new_socket(at)?;
            socket.set_reuseport(true)?;
            // Accepted sockets inherit TCP_NODELAY from the listener on Linux: one setsockopt
            // here instead of one per connection (the data plane relies on it).
            socket.set_nodelay(true)?;
            socket.bind(at)?;
            socket.listen(4096)?.into_std()
        };
        let l = bind().map_err(|source| NodeError::Listen {
            listener,
            addr: at,
            source,
        })?;
        at = l.local_addr().map_err(|source| NodeError::Listen {
            listener,
            addr: at,
            source,
        })?;
        out.push(l);
    }
    Ok(out)
}

/// Binds one listening socket (the admin API's), as `tokio::net::TcpListener::bind` does.
pub(crate) fn bind_one(
    listener: &'static str,
    addr: Option<SocketAddr>,
) -> Result<Option<std::net::TcpListener>, NodeError> {
    let Some(at) = addr else {
        return Ok(None);
    };
    let bind = || -> std::io::Result<std::net::TcpListener> {
        let socket = new_socket(at)?;
        socket.bind(at)?;
        socket.listen(1024)?.into_std()
    };
    bind().map(Some).map_err(|source| NodeError::Listen {
        listener,
        addr: at,
        source,
    })
}

/// A non-blocking TCP socket of `at`'s family with `SO_REUSEADDR` (a restarted node rebinds at
/// once).
fn new_socket(at: SocketAddr) -> std::io::Result<TcpSocket> {
    let socket = if at.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// The data plane no longer sets TCP_NODELAY on each accepted connection: the listeners
    /// must hand it down. (Nagle on a TLS connection delays small records by up to 40 ms.)
    #[tokio::test]
    async fn accepted_connections_inherit_nodelay_from_the_listener() {
        let listeners = bind_per_thread("https", Some("127.0.0.1:0".parse().unwrap()), 2).unwrap();
        assert_eq!(listeners.len(), 2);
        let addr = listeners[0].local_addr().unwrap();
        assert_eq!(
            listeners[1].local_addr().unwrap(),
            addr,
            "one port, SO_REUSEPORT"
        );
        let listeners: Vec<TcpListener> = listeners
            .into_iter()
            .map(|l| {
                l.set_nonblocking(true).unwrap();
                TcpListener::from_std(l).unwrap()
            })
            .collect();
        // SO_REUSEPORT spreads connections over both listeners; accept from whichever gets it.
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = tokio::select! {
            a = listeners[0].accept() => a.unwrap(),
            a = listeners[1].accept() => a.unwrap(),
        };
        assert!(accepted.nodelay().unwrap());
    }

    #[tokio::test]
    async fn a_listener_that_is_off_binds_nothing_and_a_taken_port_names_the_address() {
        assert!(bind_per_thread("http", None, 4).unwrap().is_empty());
        assert!(bind_one("admin", None).unwrap().is_none());
        let taken = bind_one("admin", Some("127.0.0.1:0".parse().unwrap()))
            .unwrap()
            .unwrap();
        let addr = taken.local_addr().unwrap();
        let err = bind_one("admin", Some(addr)).unwrap_err();
        assert!(
            matches!(&err, NodeError::Listen { listener: "admin", addr: a, .. } if *a == addr),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!("cannot listen on admin address {addr}")
        );
    }
}
