//! The server driven with the JSON its clients send:
//! * OpenRLHF's `request_api_wrapper` (`openrlhf/utils/remote_rm_utils.py`) posts
//!   `{"query": queries, "prompts": prompts, "labels": labels}` and reads `rewards` (and, in
//!   current versions, `scores` and `extra_logs`);
//! * LMM-R1's math verifier (`openrlhf/models/remote_rm/math_verifier.py` in TideDra/lmm-r1)
//!   receives `{"query": [...], "prompts": [...]}`, `prompts` holding the problem text, and
//!   looks the answer up in `--dataset`.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use lmmr1_reward_server::{app, PromptTemplate, RewardKind, ServerConfig};
use serde_json::{json, Value};
use tower::ServiceExt;

const PROMPT: &str = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nWhat is 6*7?<|im_end|>\n<|im_start|>assistant\n";

async fn call(
    app: &Router,
    method: &str,
    path: &str,
    body: impl Into<Body>,
) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn post(app: &Router, body: Value) -> (StatusCode, Value) {
    call(app, "POST", "/get_reward", body.to_string()).await
}

fn math_app() -> Router {
    app(ServerConfig::new(
        RewardKind::LmmR1Math,
        PromptTemplate::Chatml,
    ))
}

#[tokio::test]
async fn openrlhf_clients_get_lmm_r1_rewards() {
    let app = math_app();
    let good = "<think>6*7=42</think><answer>$\\boxed{42}$</answer>";
    let unformatted = "The answer is $\\boxed{42}$.";
    let wrong = "<think>guess</think><answer>$41$</answer>";
    let queries: Vec<String> = [good, unformatted, wrong]
        .iter()
        .map(|r| format!("{PROMPT}{r}<|im_end|><|endoftext|><|endoftext|>"))
        .collect();
    let (status, body) = post(
        &app,
        json!({"query": queries, "prompts": [PROMPT, PROMPT, PROMPT], "labels": ["42", "42", "42"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rewards"], json!([1.5, 1.0, 0.5]));
    assert_eq!(body["scores"], body["rewards"]);
    assert_eq!(body["format_rewards"], json!([0.5, 0.0, 0.5]));
    assert_eq!(body["acc_rewards"], json!([1.0, 1.0, 0.0]));
    assert_eq!(body["extra_logs"]["acc_rewards"], body["acc_rewards"]);

    // Without prompts the chat template finds the response; numeric labels are read as text.
    let (status, body) = post(&app, json!({"query": [queries[0]], "labels": [42]})).await;
    assert_eq!((status, &body["rewards"]), (StatusCode::OK, &json!([1.5])));
}

#[tokio::test]
async fn lmm_r1_clients_without_labels_are_served_from_the_dataset() {
    let dir = std::env::temp_dir().join(format!("reward-server-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("train.jsonl");
    std::fs::write(
        &data,
        "{\"prompt\": \"What is 6*7?\", \"answer\": \"42\"}\n",
    )
    .unwrap();
    let mut cfg = ServerConfig::new(RewardKind::LmmR1Math, PromptTemplate::Chatml);
    cfg.labels_by_prompt =
        lmmr1_reward_server::protocol::load_labels(data.to_str().unwrap(), "prompt", "answer")
            .unwrap();
    let app = app(cfg);
    let query = format!("{PROMPT}<think>x</think><answer>$42$</answer><|im_end|>");
    let (status, body) = post(&app, json!({"query": [query], "prompts": ["What is 6*7?"]})).await;
    assert_eq!(
        (status, &body["rewards"]),
        (StatusCode::OK, &json!([1.5])),
        "{body}"
    );
    // The problem is also found in the query's user turn.
    let (status, body) = post(&app, json!({"query": [query]})).await;
    assert_eq!(
        (status, &body["rewards"]),
        (StatusCode::OK, &json!([1.5])),
        "{body}"
    );
    let (status, body) = post(&app, json!({"query": [query], "prompts": ["What is 5*7?"]})).await;
    // The query's user turn still names a known problem.
    assert_eq!(status, StatusCode::OK, "{body}");
    let other =
        "<|im_start|>user\nWhat is 5*7?<|im_end|>\n<|im_start|>assistant\n<answer>35</answer>";
    let (status, body) = post(&app, json!({"query": [other], "prompts": ["What is 5*7?"]})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"].as_str().unwrap().contains("prompts[0]"),
        "{body}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn bad_requests_get_a_4xx_naming_the_field_and_the_server_keeps_serving() {
    let mut cfg = ServerConfig::new(RewardKind::LmmR1Math, PromptTemplate::Chatml);
    cfg.body_limit = 4096;
    let app = app(cfg);
    let cases: Vec<(Body, StatusCode, &str)> = vec![
        (
            json!({"query": ["a"]}).to_string().into(),
            StatusCode::BAD_REQUEST,
            "labels missing",
        ),
        (
            json!({"query": ["a", "b"], "labels": ["1"]})
                .to_string()
                .into(),
            StatusCode::BAD_REQUEST,
            "labels has 1 items but query has 2",
        ),
        (
            json!({"query": ["a"], "prompts": [], "labels": ["1"]})
                .to_string()
                .into(),
            StatusCode::BAD_REQUEST,
            "prompts has 0 items",
        ),
        (
            json!({"query": ["a"], "labels": [[1]]}).to_string().into(),
            StatusCode::BAD_REQUEST,
            "labels[0]",
        ),
        (
            json!({"query": ["a"], "labels": [null]}).to_string().into(),
            StatusCode::BAD_REQUEST,
            "labels[0] is null",
        ),
        (
            json!({"labels": ["1"]}).to_string().into(),
            StatusCode::BAD_REQUEST,
            "query",
        ),
        (
            json!({"query": "a", "labels": ["1"]}).to_string().into(),
            StatusCode::BAD_REQUEST,
            "query",
        ),
        ("{not json".into(), StatusCode::BAD_REQUEST, "not JSON"),
        ("".into(), StatusCode::BAD_REQUEST, "not JSON"),
        (
            "x".repeat(10_000).into(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body too large",
        ),
    ];
    for (body, want, says) in cases {
        let (status, got) = call(&app, "POST", "/get_reward", body).await;
        assert_eq!(status, want, "{got}");
        let msg = got["error"].as_str().unwrap_or_default();
        assert!(msg.contains(says), "{msg:?} lacks {says:?}");
        let (status, ok) = post(&app, json!({"query": ["$1$"], "labels": ["1"]})).await;
        assert_eq!(
            (status, &ok["acc_rewards"]),
            (StatusCode::OK, &json!([0.0])),
            "{ok}"
        );
    }
    let (status, health) = call(&app, "GET", "/health", Body::empty()).await;
    assert_eq!(
        (status, health),
        (
            StatusCode::OK,
            json!({"status": "ok", "reward": "lmm_r1_math"})
        )
    );
}

#[tokio::test]
async fn every_reward_kind_scores() {
    let sokoban = app(ServerConfig::new(RewardKind::Sokoban, PromptTemplate::None));
    let level = "######\n#@$ .#\n######";
    let (status, body) = post(
        &sokoban,
        json!({"query": ["<think>push it twice</think><answer>right, right</answer>", "<answer>up</answer>"],
               "labels": [level, level]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rewards: Vec<f64> = serde_json::from_value(body["rewards"].clone()).unwrap();
    assert!(rewards[0] > 10.0 && rewards[1] == 0.0, "{rewards:?}");
    let (status, body) = post(
        &sokoban,
        json!({"query": ["x"], "labels": ["#####\n#@$ #\n#####"]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("labels[0]: not a Sokoban level"),
        "{body}"
    );

    let geo = app(ServerConfig::new(
        RewardKind::Geometry,
        PromptTemplate::None,
    ));
    let (_, body) = post(
        &geo,
        json!({"query": ["<think>a</think><answer>40°</answer>"], "labels": ["40"]}),
    )
    .await;
    assert_eq!(body["rewards"], json!([1.5]), "{body}");

    let math = app(ServerConfig::new(RewardKind::Math, PromptTemplate::None));
    let (_, body) = post(
        &math,
        json!({"query": ["<think>a</think><answer>$\\frac{1}{2}$</answer>"], "labels": ["0.5"]}),
    )
    .await;
    assert_eq!(body["rewards"], json!([1.0]), "{body}");
}
