//! Every route's authentication: missing, wrong and someone else's credentials.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn agent_routes_refuse_missing_wrong_and_foreign_keys() {
    bounded(async {
        let g = Gateway::start().await;
        let alice = g.register("alice").await;
        let bob = g.register("bob").await;
        let carol = g.register("carol").await;
        let (status, sent) = g.send(&alice, envelope("alice", &["bob"])).await;
        assert_eq!(status, StatusCode::OK, "{sent}");
        let id = sent["message_id"].as_str().unwrap().to_string();

        let inbox = format!("/v1/inbox/{}", addr("bob"));
        let ack = format!("/v1/inbox/{}/{id}", addr("bob"));
        let get = format!("/v1/messages/{id}");
        let status_path = format!("/v1/messages/{id}/status");
        let routes: Vec<(Method, String)> = vec![
            (Method::POST, "/v1/messages".into()),
            (Method::GET, "/v1/messages".into()),
            (Method::GET, get.clone()),
            (Method::GET, status_path.clone()),
            (Method::GET, inbox.clone()),
            (Method::DELETE, ack.clone()),
            (Method::GET, "/v1/discovery/agents".into()),
            (Method::GET, format!("/v1/discovery/agents/{DOMAIN}")),
            (Method::GET, format!("/v1/workflows/{id}")),
        ];
        for (method, path) in &routes {
            let body = envelope("alice", &["bob"]);
            let none = call(g.req(method.clone(), path).json(&body)).await;
            assert_error(&none, StatusCode::UNAUTHORIZED, "MISSING_AUTHORIZATION");
            let wrong = call(g.agent("agk_not-a-key", method.clone(), path).json(&body)).await;
            assert_error(&wrong, StatusCode::UNAUTHORIZED, "INVALID_API_KEY");
            let basic = call(
                g.req(method.clone(), path)
                    .basic_auth("alice", Some("x"))
                    .json(&body),
            )
            .await;
            assert_error(&basic, StatusCode::UNAUTHORIZED, "MISSING_AUTHORIZATION");
        }
        // Another agent's valid key.
        let foreign = [
            (Method::POST, "/v1/messages".to_string(), &carol),
            (Method::GET, get.clone(), &carol),
            (Method::GET, status_path.clone(), &carol),
            (Method::GET, inbox.clone(), &alice),
            (Method::DELETE, ack.clone(), &alice),
        ];
        for (method, path, key) in foreign {
            let got = call(
                g.agent(key, method, &path)
                    .json(&envelope("alice", &["bob"])),
            )
            .await;
            assert_error(&got, StatusCode::FORBIDDEN, "ACCESS_DENIED");
        }
        // The rightful callers get through.
        for key in [&alice, &bob] {
            assert_eq!(
                call(g.agent(key, Method::GET, &get)).await.0,
                StatusCode::OK
            );
            assert_eq!(
                call(g.agent(key, Method::GET, &status_path)).await.0,
                StatusCode::OK
            );
        }
        assert_eq!(call(g.admin(Method::GET, &get)).await.0, StatusCode::OK);
        assert_eq!(
            call(g.admin(Method::GET, &status_path)).await.0,
            StatusCode::OK
        );
        assert_eq!(
            call(g.agent(&bob, Method::GET, &inbox)).await.0,
            StatusCode::OK
        );
        assert_eq!(
            call(g.agent(&bob, Method::DELETE, &ack)).await.0,
            StatusCode::OK
        );
        assert_eq!(
            call(g.agent(&carol, Method::GET, "/v1/discovery/agents"))
                .await
                .0,
            StatusCode::OK
        );
        assert_eq!(
            call(g.admin(Method::GET, "/v1/discovery/agents")).await.0,
            StatusCode::OK
        );
        // An admin key never opens an inbox.
        let got = call(g.admin(Method::GET, &inbox)).await;
        assert_error(&got, StatusCode::UNAUTHORIZED, "MISSING_AUTHORIZATION");
        // A wrong admin key on a route that takes either is refused as such.
        let got = call(g.req(Method::GET, &get).header("X-Admin-Key", "nope")).await;
        assert_error(&got, StatusCode::UNAUTHORIZED, "INVALID_ADMIN_KEY");
    })
    .await;
}

#[tokio::test]
async fn admin_routes_refuse_missing_wrong_and_agent_keys() {
    bounded(async {
        let g = Gateway::start().await;
        let alice = g.register("alice").await;
        let routes: Vec<(Method, String)> = vec![
            (Method::POST, "/v1/admin/agents".into()),
            (Method::GET, "/v1/admin/agents".into()),
            (Method::GET, "/v1/admin/agents/alice".into()),
            (Method::DELETE, "/v1/admin/agents/alice".into()),
            (Method::POST, "/v1/admin/agents/alice/rotate-key".into()),
            (Method::POST, "/v1/admin/schemas".into()),
            (Method::GET, "/v1/admin/schemas".into()),
            (Method::GET, "/v1/admin/schemas/stats".into()),
            (Method::GET, "/v1/admin/schemas/acme:sales.order.v1".into()),
            (Method::PUT, "/v1/admin/schemas/acme:sales.order.v1".into()),
            (
                Method::DELETE,
                "/v1/admin/schemas/acme:sales.order.v1".into(),
            ),
            (
                Method::POST,
                "/v1/admin/schemas/acme:sales.order.v1/validate".into(),
            ),
            (Method::GET, "/v1/admin/federation/keys".into()),
            (Method::POST, "/v1/admin/federation/keys/rotate".into()),
        ];
        let body = json!({"name": "zed"});
        // A body every schema route could act on, were it authorised.
        let schema_body = json!({"id": "acme:sales.order.v1", "definition": {}, "payload": {}});
        for (method, path) in &routes {
            let body = if path.contains("/schemas") {
                &schema_body
            } else {
                &body
            };
            let none = call(g.req(method.clone(), path).json(&body)).await;
            assert_error(&none, StatusCode::UNAUTHORIZED, "MISSING_ADMIN_KEY");
            let wrong = call(
                g.req(method.clone(), path)
                    .header("X-Admin-Key", "aga_wrong")
                    .json(&body),
            )
            .await;
            assert_error(&wrong, StatusCode::UNAUTHORIZED, "INVALID_ADMIN_KEY");
            let agent_as_admin = call(
                g.req(method.clone(), path)
                    .header("X-Admin-Key", &alice)
                    .json(&body),
            )
            .await;
            assert_error(
                &agent_as_admin,
                StatusCode::UNAUTHORIZED,
                "INVALID_ADMIN_KEY",
            );
        }
        // An agent's Bearer key is not an admin credential...
        for (method, path) in &routes[1..] {
            let got = call(g.agent(&alice, method.clone(), path)).await;
            assert_error(&got, StatusCode::UNAUTHORIZED, "MISSING_ADMIN_KEY");
        }
        // ...except that registering *itself* again (what the AMTP SDK does) is confirmed.
        let got = call(
            g.agent(&alice, Method::POST, "/v1/admin/agents")
                .json(&json!({"address": addr("alice"), "delivery_mode": "pull"})),
        )
        .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(got.1["agent"]["address"], addr("alice"));
        assert!(got.1.get("api_key").is_none(), "no new key: {}", got.1);
        let got = call(
            g.agent(&alice, Method::POST, "/v1/admin/agents")
                .json(&body),
        )
        .await;
        assert_error(&got, StatusCode::FORBIDDEN, "ACCESS_DENIED");
        let got = call(
            g.agent("agk_unknown", Method::POST, "/v1/admin/agents")
                .json(&body),
        )
        .await;
        assert_error(&got, StatusCode::UNAUTHORIZED, "INVALID_API_KEY");
        // Nothing was registered, rotated or removed by the refused calls.
        let (_, list) = call(g.admin(Method::GET, "/v1/admin/agents")).await;
        assert_eq!(list["agent_count"], 1, "{list}");
        let (_, list) = call(g.admin(Method::GET, "/v1/admin/schemas")).await;
        assert_eq!(list["count"], 0, "{list}");
        assert_eq!(
            call(g.agent(&alice, Method::GET, "/v1/messages")).await.0,
            StatusCode::OK
        );
    })
    .await;
}

#[tokio::test]
async fn operations_routes() {
    bounded(async {
        let g = Gateway::start().await;
        let alice = g.register("alice").await;
        assert_eq!(call(g.req(Method::GET, "/health")).await.0, StatusCode::OK);
        let (status, body) = call(g.req(Method::GET, "/ready")).await;
        assert_eq!(
            (status, body["status"].as_str()),
            (StatusCode::OK, Some("ready"))
        );
        let none = call(g.req(Method::GET, "/metrics")).await;
        assert_error(&none, StatusCode::UNAUTHORIZED, "MISSING_ADMIN_KEY");
        let wrong = call(g.req(Method::GET, "/metrics").header("X-Admin-Key", "x")).await;
        assert_error(&wrong, StatusCode::UNAUTHORIZED, "INVALID_ADMIN_KEY");
        let agent = call(g.agent(&alice, Method::GET, "/metrics")).await;
        assert_error(&agent, StatusCode::UNAUTHORIZED, "INVALID_ADMIN_KEY");
        let ok = g
            .req(Method::GET, "/metrics")
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
        let ok = g.admin(Method::GET, "/metrics").send().await.unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
        // Public by design: what DNS says, and the keys peers verify us with.
        assert_eq!(
            call(g.req(Method::GET, &format!("/v1/capabilities/{DOMAIN}")))
                .await
                .0,
            StatusCode::OK
        );
        assert_eq!(
            call(g.req(Method::GET, "/.well-known/amtp/keys")).await.0,
            StatusCode::OK
        );

        let open = Gateway::start_with(|c| c.metrics.require_auth = false).await;
        assert_eq!(
            open.req(Method::GET, "/metrics")
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
    })
    .await;
}

#[tokio::test]
async fn admin_key_file_changes_apply_without_restart() {
    bounded(async {
        let g = Gateway::start().await;
        let path = g.config.auth.admin_key_file.clone().unwrap();
        std::fs::write(
            &path,
            format!("{ADMIN_KEY}\naga_second-key-that-is-longer\n"),
        )
        .unwrap();
        let got = call(
            g.req(Method::GET, "/v1/admin/agents")
                .header("X-Admin-Key", "aga_second-key-that-is-longer"),
        )
        .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        std::fs::write(&path, "# all keys revoked\n").unwrap();
        let got = call(g.admin(Method::GET, "/v1/admin/agents")).await;
        assert_error(&got, StatusCode::UNAUTHORIZED, "INVALID_ADMIN_KEY");
    })
    .await;
}

#[tokio::test]
async fn the_batch_route_takes_only_a_peers_signature() {
    bounded(async {
        let g = Gateway::start().await;
        let alice = g.register("alice").await;
        let batch = json!({"messages": [envelope("alice", &["alice"])]});
        let path = "/v1/federation/batch";
        let none = call(g.req(Method::POST, path).json(&batch)).await;
        assert_error(&none, StatusCode::UNAUTHORIZED, "SIGNATURE_REQUIRED");
        let agent = call(g.agent(&alice, Method::POST, path).json(&batch)).await;
        assert_error(&agent, StatusCode::UNAUTHORIZED, "SIGNATURE_REQUIRED");
        let admin = call(g.admin(Method::POST, path).json(&batch)).await;
        assert_error(&admin, StatusCode::UNAUTHORIZED, "SIGNATURE_REQUIRED");
        let (_, inbox) =
            call(g.agent(&alice, Method::GET, &format!("/v1/inbox/{}", addr("alice")))).await;
        assert_eq!(inbox["messages"], json!([]), "{inbox}");
    })
    .await;
}
