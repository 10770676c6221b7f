//! Agent administration: register, list, show, unregister, rotate, and validation.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn register_show_list_rotate_unregister() {
    bounded(async {
        let g = Gateway::start().await;
        let (status, body) = g
            .register_with(json!({
                "address": addr("sales"),
                "supported_schemas": ["agntcy:commerce.*", "agntcy:hr.person.v1"],
            }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let key = body["api_key"].as_str().unwrap().to_string();
        assert!(key.starts_with("agk_") && key.len() >= 47, "{key}");
        assert!(body.get("webhook_secret").is_none());
        let agent = &body["agent"];
        assert_eq!(agent["address"], addr("sales"));
        assert_eq!(agent["delivery_mode"], "pull");
        assert_eq!(agent["requires_schema"], true);
        assert!(agent["created_at"].as_str().unwrap().ends_with('Z'));
        assert!(agent.get("api_key").is_none() && agent.get("api_key_hash").is_none());

        // Shown by name or by address; 404 for unknown names.
        for who in ["sales", &addr("sales"), "sales%40gw.test"] {
            let (s, b) = call(g.admin(Method::GET, &format!("/v1/admin/agents/{who}"))).await;
            assert_eq!(s, StatusCode::OK, "{who}: {b}");
            assert_eq!(b["agent"]["address"], addr("sales"));
        }
        let missing = call(g.admin(Method::GET, "/v1/admin/agents/nobody")).await;
        assert_error(&missing, StatusCode::NOT_FOUND, "AGENT_NOT_FOUND");

        // Listing pages through agents in address order.
        for n in ["a1", "b2", "c3", "d4"] {
            g.register(n).await;
        }
        let (_, p1) = call(g.admin(Method::GET, "/v1/admin/agents?limit=2")).await;
        assert_eq!(p1["agent_count"], 5);
        assert_eq!(p1["has_more"], true);
        let names: Vec<&str> = p1["agents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["address"].as_str().unwrap())
            .collect();
        assert_eq!(names, [addr("a1"), addr("b2")]);
        let cursor = p1["next_cursor"].as_str().unwrap();
        let (_, p2) = call(g.admin(
            Method::GET,
            &format!("/v1/admin/agents?limit=2&cursor={cursor}"),
        ))
        .await;
        let names: Vec<&str> = p2["agents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["address"].as_str().unwrap())
            .collect();
        assert_eq!(names, [addr("c3"), addr("d4")]);
        let cursor = p2["next_cursor"].as_str().unwrap();
        let (_, p3) = call(g.admin(
            Method::GET,
            &format!("/v1/admin/agents?limit=2&cursor={cursor}"),
        ))
        .await;
        assert_eq!(p3["agents"].as_array().unwrap().len(), 1);
        assert_eq!(p3["has_more"], false);
        assert!(p3.get("next_cursor").is_none());
        assert_error(
            &call(g.admin(Method::GET, "/v1/admin/agents?limit=0")).await,
            StatusCode::BAD_REQUEST,
            "INVALID_LIMIT",
        );
        assert_error(
            &call(g.admin(Method::GET, "/v1/admin/agents?cursor=%%%")).await,
            StatusCode::BAD_REQUEST,
            "INVALID_CURSOR",
        );

        // Rotation: the old key stops working at once, the new one works.
        let (s, rotated) = call(g.admin(Method::POST, "/v1/admin/agents/sales/rotate-key")).await;
        assert_eq!(s, StatusCode::OK, "{rotated}");
        let new_key = rotated["api_key"].as_str().unwrap().to_string();
        assert_ne!(new_key, key);
        let old = call(g.agent(&key, Method::GET, "/v1/messages")).await;
        assert_error(&old, StatusCode::UNAUTHORIZED, "INVALID_API_KEY");
        assert_eq!(
            call(g.agent(&new_key, Method::GET, "/v1/messages")).await.0,
            StatusCode::OK
        );

        // Unregistration removes the agent, its key and its inbox.
        let other = g.register("sender").await;
        // Local senders may only name registered schemas; this one accepts anything.
        g.register_schema("agntcy:commerce.order.v1", json!({}))
            .await;
        let mut e = envelope("sender", &["sales"]);
        e["schema"] = json!("agntcy:commerce.order.v1");
        let (s, b) = g.send(&other, e).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let (s, gone) = call(g.admin(Method::DELETE, "/v1/admin/agents/sales")).await;
        assert_eq!(s, StatusCode::OK, "{gone}");
        assert_eq!(
            gone,
            json!({"address": addr("sales"), "status": "unregistered"})
        );
        let after = call(g.agent(&new_key, Method::GET, "/v1/messages")).await;
        assert_error(&after, StatusCode::UNAUTHORIZED, "INVALID_API_KEY");
        assert_error(
            &call(g.admin(Method::GET, "/v1/admin/agents/sales")).await,
            StatusCode::NOT_FOUND,
            "AGENT_NOT_FOUND",
        );
        assert_error(
            &call(g.admin(Method::DELETE, "/v1/admin/agents/sales")).await,
            StatusCode::NOT_FOUND,
            "AGENT_NOT_FOUND",
        );
        // Registered again, the name starts with an empty inbox.
        let again = g.register("sales").await;
        let (_, inbox) = g.inbox(&again, "sales", "").await;
        assert_eq!(inbox["messages"], json!([]), "{inbox}");
        assert_eq!(inbox["message_count"], 0);
    })
    .await;
}

#[tokio::test]
async fn registrations_are_validated() {
    bounded(async {
        let g = Gateway::start().await;
        g.register("taken").await;
        let cases = [
            (json!({"name": "taken"}), StatusCode::CONFLICT, "AGENT_EXISTS"),
            (json!({}), StatusCode::BAD_REQUEST, "INVALID_AGENT_NAME"),
            (json!({"name": "-bad"}), StatusCode::BAD_REQUEST, "INVALID_AGENT_NAME"),
            (json!({"name": "a b"}), StatusCode::BAD_REQUEST, "INVALID_AGENT_NAME"),
            (json!({"name": "x".repeat(65)}), StatusCode::BAD_REQUEST, "INVALID_AGENT_NAME"),
            (json!({"address": "bot@elsewhere.com"}), StatusCode::BAD_REQUEST, "WRONG_DOMAIN"),
            (json!({"name": "a", "address": addr("b")}), StatusCode::BAD_REQUEST, "INVALID_AGENT_NAME"),
            (json!({"name": "p", "delivery_mode": "carrier-pigeon"}), StatusCode::BAD_REQUEST, "INVALID_DELIVERY_MODE"),
            (json!({"name": "p", "delivery_mode": "push"}), StatusCode::BAD_REQUEST, "INVALID_PUSH_TARGET"),
            (json!({"name": "p", "delivery_mode": "push", "push_target": "ftp://x.com/"}), StatusCode::BAD_REQUEST, "INVALID_PUSH_TARGET"),
            (json!({"name": "p", "delivery_mode": "push", "push_target": "https://u:pw@x.com/"}), StatusCode::BAD_REQUEST, "INVALID_PUSH_TARGET"),
            (json!({"name": "p", "push_target": "https://x.com/"}), StatusCode::BAD_REQUEST, "INVALID_PUSH_TARGET"),
            (json!({"name": "p", "delivery_mode": "push", "push_target": "https://x.com/", "headers": {"Host": "evil"}}), StatusCode::BAD_REQUEST, "INVALID_HEADERS"),
            (json!({"name": "p", "supported_schemas": ["not-a-schema"]}), StatusCode::BAD_REQUEST, "INVALID_SCHEMA"),
            (json!({"name": "p", "api_key": "weak"}), StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
            (json!({"name": 5}), StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
        ];
        for (spec, status, error_code) in cases {
            let got = g.register_with(spec.clone()).await;
            assert_error(&got, status, error_code);
        }
        let got = call(g.admin(Method::POST, "/v1/admin/agents").body("{not json")).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "INVALID_REQUEST");
        let huge = json!({"name": "big", "headers": {"X-Big": "v".repeat(70 * 1024)}});
        assert_error(&g.register_with(huge).await, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE");
        let (_, list) = call(g.admin(Method::GET, "/v1/admin/agents")).await;
        assert_eq!(list["agent_count"], 1, "no refused registration left anything: {list}");
    })
    .await;
}

#[tokio::test]
async fn push_targets_are_refused_by_the_default_policy() {
    bounded(async {
        let g = Gateway::start_with(|c| {
            c.delivery.push.allow_http = false;
            c.delivery.push.allow_private_targets = false;
        })
        .await;
        for target in [
            "http://hooks.example.com/amtp",
            "https://127.0.0.1:9000/hook",
            "https://localhost/hook",
            "https://10.0.0.8/hook",
            "https://169.254.169.254/latest",
            "https://[::1]/hook",
        ] {
            let got = g
                .register_with(
                    json!({"name": "hook", "delivery_mode": "push", "push_target": target}),
                )
                .await;
            assert_error(&got, StatusCode::BAD_REQUEST, "INVALID_PUSH_TARGET");
        }
        let (status, body) = g
            .register_with(json!({"name": "hook", "delivery_mode": "push",
                                  "push_target": "https://hooks.example.com/amtp",
                                  "headers": {"Authorization": "Bearer s3cret"}}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert!(
            body["webhook_secret"]
                .as_str()
                .unwrap()
                .starts_with("whsec_")
        );
        assert_eq!(body["agent"]["headers"], json!({"Authorization": "***"}));
        assert_eq!(
            body["agent"]["push_target"],
            "https://hooks.example.com/amtp"
        );
        let (_, shown) = call(g.admin(Method::GET, "/v1/admin/agents/hook")).await;
        assert!(!shown.to_string().contains("s3cret"), "{shown}");
        assert!(!shown.to_string().contains("whsec_"), "{shown}");
    })
    .await;
}

#[tokio::test]
async fn discovery_lists_agents_with_filters() {
    bounded(async {
        let g = Gateway::start().await;
        let a = g.register("alpha").await;
        g.register("gamma").await;
        let (s, b) = g
            .register_with(json!({"name": "beta", "delivery_mode": "push",
                                  "push_target": "http://127.0.0.1:9/x",
                                  "supported_schemas": ["agntcy:x.y.v1"]}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        // alpha has made authenticated requests; the others have not.
        let names = |v: &serde_json::Value| -> Vec<String> {
            v["agents"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["address"].as_str().unwrap().to_string())
                .collect()
        };
        let (s, all) = call(g.agent(&a, Method::GET, "/v1/discovery/agents")).await;
        assert_eq!(s, StatusCode::OK, "{all}");
        assert_eq!(names(&all), [addr("alpha"), addr("beta"), addr("gamma")]);
        assert_eq!(all["agent_count"], 3);
        assert_eq!(all["domain"], DOMAIN);
        assert_eq!(
            all["agents"][1]["supported_schemas"],
            json!(["agntcy:x.y.v1"])
        );
        assert_eq!(all["agents"][0]["active"], true);
        assert_eq!(all["agents"][2]["active"], false);
        assert!(all["agents"][0].get("push_target").is_none());
        let (_, push) =
            call(g.agent(&a, Method::GET, "/v1/discovery/agents?delivery_mode=push")).await;
        assert_eq!(names(&push), [addr("beta")]);
        let (_, pull) = call(g.admin(
            Method::GET,
            &format!("/v1/discovery/agents/{DOMAIN}?delivery_mode=pull"),
        ))
        .await;
        assert_eq!(names(&pull), [addr("alpha"), addr("gamma")]);
        let (_, active) =
            call(g.agent(&a, Method::GET, "/v1/discovery/agents?active_only=true")).await;
        assert_eq!(names(&active), [addr("alpha")]);
        let other = call(g.agent(&a, Method::GET, "/v1/discovery/agents/elsewhere.com")).await;
        assert_error(&other, StatusCode::NOT_FOUND, "DOMAIN_NOT_FOUND");
        let bad = call(g.agent(&a, Method::GET, "/v1/discovery/agents?delivery_mode=fax")).await;
        assert_error(&bad, StatusCode::BAD_REQUEST, "INVALID_DELIVERY_MODE");
        let bad = call(g.agent(&a, Method::GET, "/v1/discovery/agents?active_only=maybe")).await;
        assert_error(&bad, StatusCode::BAD_REQUEST, "INVALID_QUERY");
    })
    .await;
}

#[tokio::test]
async fn agents_and_activity_survive_a_restart() {
    bounded(async {
        let g = Gateway::start().await;
        let key = g.register("keeper").await;
        assert_eq!(
            call(g.agent(&key, Method::GET, "/v1/messages")).await.0,
            StatusCode::OK
        );
        let g = g.restart().await;
        let (s, shown) = call(g.admin(Method::GET, "/v1/admin/agents/keeper")).await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            shown["agent"]["last_active"].as_str().is_some(),
            "activity written back at shutdown: {shown}"
        );
        assert_eq!(
            call(g.agent(&key, Method::GET, "/v1/messages")).await.0,
            StatusCode::OK
        );
    })
    .await;
}
