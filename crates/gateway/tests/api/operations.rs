//! Request ids, error shapes, metrics and readiness.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn request_ids_are_echoed_or_minted() {
    bounded(async {
        let g = Gateway::start().await;
        let resp = g
            .req(Method::GET, "/health")
            .header("X-Request-ID", "trace-abc-123")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["x-request-id"], "trace-abc-123");
        let resp = g
            .req(Method::GET, "/health")
            .header("X-Request-ID", "bad id with spaces")
            .send()
            .await
            .unwrap();
        let minted = resp.headers()["x-request-id"].to_str().unwrap().to_string();
        assert_eq!(minted.len(), 36, "{minted}");
        let resp = g
            .req(Method::GET, "/v1/messages")
            .header("X-Request-ID", "req-42")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["x-request-id"], "req-42");
        let (s, body) = split(resp).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"]["request_id"], "req-42");

        let got = call(g.req(Method::GET, "/v1/nowhere")).await;
        assert_error(&got, StatusCode::NOT_FOUND, "NOT_FOUND");
        let got = call(g.req(Method::PUT, "/v1/messages")).await;
        assert_error(&got, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED");
    })
    .await;
}

fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_count_what_happened() {
    bounded(async {
        let g = Gateway::start().await;
        let alice = g.register("alice").await;
        let bob = g.register("bob").await;
        for _ in 0..3 {
            assert_eq!(g.send(&alice, envelope("alice", &["bob"])).await.0, StatusCode::OK);
        }
        assert_eq!(g.send(&alice, envelope("alice", &["ghost"])).await.0, StatusCode::UNPROCESSABLE_ENTITY);
        let (_, inbox) = g.inbox(&bob, "bob", "").await;
        let id = inbox["messages"][0]["message_id"].as_str().unwrap();
        call(g.agent(&bob, Method::DELETE, &format!("/v1/inbox/{}/{id}", addr("bob")))).await;

        let resp = g.admin(Method::GET, "/metrics").send().await.unwrap();
        assert!(resp.headers()["content-type"].to_str().unwrap().contains("openmetrics-text"));
        let text = resp.text().await.unwrap();
        let has = |series: &str, want: f64| {
            let got = sample(&text, series);
            assert_eq!(got, Some(want), "{series} in\n{text}");
        };
        has("agentgate_http_requests_total{method=\"POST\",route=\"/v1/messages\",status=\"200\"}", 3.0);
        has("agentgate_http_requests_total{method=\"POST\",route=\"/v1/messages\",status=\"422\"}", 1.0);
        has("agentgate_http_requests_total{method=\"GET\",route=\"/v1/inbox/{address}\",status=\"200\"}", 1.0);
        has("agentgate_messages_accepted_total", 3.0);
        has("agentgate_messages_delivered_total{mode=\"pull\"}", 3.0);
        has("agentgate_messages_failed_total{reason=\"AGENT_UNKNOWN\"}", 1.0);
        has("agentgate_inbox_messages", 2.0);
        has("amtp_messages_total{status=\"delivered\"}", 3.0);
        has("amtp_messages_total{status=\"rejected\"}", 1.0);
        has("amtp_errors_total{code=\"AGENT_UNKNOWN\"}", 1.0);
        has("amtp_messages_in_flight", 0.0);
        has("amtp_delivery_duration_seconds_count{mode=\"pull\"}", 3.0);
        // Each accepted message is one `write_many` round trip.
        assert!(sample(&text, "agentgate_store_operation_duration_seconds_count{op=\"write_many\"}").unwrap() >= 3.0);
        assert!(sample(&text, "agentgate_http_request_duration_seconds_count{method=\"POST\",route=\"/v1/messages\"}").unwrap() >= 4.0);
        assert!(!text.contains(&addr("bob")), "no raw paths as labels");
        assert!(text.trim_end().ends_with("# EOF"));

        // The inbox gauge is rebuilt from the store after a restart.
        let g = g.restart().await;
        let text = g.admin(Method::GET, "/metrics").send().await.unwrap().text().await.unwrap();
        assert_eq!(sample(&text, "agentgate_inbox_messages"), Some(2.0), "{text}");
    })
    .await;
}

#[tokio::test]
async fn readiness_follows_the_store() {
    bounded(async {
        let g = Gateway::start().await;
        let key = g.register("alice").await;
        assert_eq!(call(g.req(Method::GET, "/ready")).await.0, StatusCode::OK);
        g.app.shutdown().await;
        let (s, body) = call(g.req(Method::GET, "/ready")).await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["status"], "unavailable");
        assert_eq!(call(g.req(Method::GET, "/health")).await.0, StatusCode::OK);
        // Writes after the store closed are refused as unavailable, not lost silently.
        let got = g.send(&key, envelope("alice", &["alice"])).await;
        assert_error(&got, StatusCode::SERVICE_UNAVAILABLE, "STORE_UNAVAILABLE");
        // Shutting down twice is harmless.
        g.app.shutdown().await;
        let _ = json!(null);
    })
    .await;
}

#[tokio::test]
async fn startup_refuses_what_it_cannot_serve() {
    bounded(async {
        use agentgate_gateway::App;
        use agentgate_gateway::config::{Backend, Config};
        let dir = tempfile::tempdir().unwrap();
        let base = || {
            let mut c = Config::default();
            c.server.domain = DOMAIN.into();
            c.storage.data_dir = dir.path().join("data");
            c
        };

        let mut nats = base();
        nats.storage.backend = Backend::Nats;
        let err = App::open(&nats).await.unwrap_err().to_string();
        assert!(err.contains("not yet supported"), "{err}");

        let mut missing = base();
        missing.auth.admin_key_file = Some(dir.path().join("no-such-file"));
        let err = format!("{:#}", App::open(&missing).await.unwrap_err());
        assert!(err.contains("auth.admin_key_file"), "{err}");

        let empty_file = dir.path().join("empty.keys");
        std::fs::write(&empty_file, "# nothing here\n\n").unwrap();
        let mut empty = base();
        empty.auth.admin_key_file = Some(empty_file);
        let err = format!("{:#}", App::open(&empty).await.unwrap_err());
        assert!(err.contains("holds no key"), "{err}");

        // Without a key file, one is generated in the data directory and reused.
        let app = App::open(&base()).await.unwrap();
        app.shutdown().await;
        drop(app);
        let generated = std::fs::read_to_string(dir.path().join("data/admin.key")).unwrap();
        let app = App::open(&base()).await.unwrap();
        app.shutdown().await;
        drop(app);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("data/admin.key")).unwrap(),
            generated
        );
    })
    .await;
}
