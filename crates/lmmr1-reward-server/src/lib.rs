//! A remote reward server for OpenRLHF and LMM-R1 (`--remote_rm_url http://host:5000/get_reward`)
//! on `lmmr1-rewards`: `POST /get_reward` scores a batch on a thread pool and answers
//! `{"rewards", "scores", "extra_logs"}` (plus LMM-R1's `format_rewards` and `acc_rewards` for
//! the math rewards); `GET /health`. Bad requests get a 4xx JSON `{"error": …}` naming the field,
//! and the server keeps serving.
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! use lmmr1_reward_server::{app, PromptTemplate, RewardKind, ServerConfig};
//! let cfg = ServerConfig::new(RewardKind::LmmR1Math, PromptTemplate::Chatml);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:5000").await?;
//! axum::serve(listener, app(cfg)).await?;
//! # Ok(()) }
//! ```

pub mod protocol;
pub mod scoring;

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

pub use protocol::{PromptTemplate, RewardRequest};
pub use scoring::{RewardKind, Scored};

/// Errors of the server's setup.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A `--dataset` file that cannot be read.
    #[error("--dataset {0}")]
    Dataset(String),
    /// The thread pool could not start.
    #[error("thread pool: {0}")]
    Pool(String),
}

/// What the server serves.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The reward rule.
    pub reward: RewardKind,
    /// How to find the response in a query sent without its prompt.
    pub template: PromptTemplate,
    /// Prompt (or problem text) → label, for requests without `labels`.
    pub labels_by_prompt: HashMap<String, String>,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Scoring threads (0 = all cores).
    pub threads: usize,
}

impl ServerConfig {
    /// A server for `reward`, with no dataset, a 64 MiB body limit and all cores.
    pub fn new(reward: RewardKind, template: PromptTemplate) -> Self {
        Self {
            reward,
            template,
            labels_by_prompt: HashMap::new(),
            body_limit: 64 << 20,
            threads: 0,
        }
    }
}

struct Shared {
    cfg: ServerConfig,
    pool: rayon::ThreadPool,
}

/// A 4xx answer: `{"error": message}`.
struct BadRequest(StatusCode, String);

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

fn bad(msg: impl Into<String>) -> BadRequest {
    BadRequest(StatusCode::BAD_REQUEST, msg.into())
}

/// The router: `POST /get_reward`, `GET /health`.
///
/// # Panics
/// When the scoring thread pool cannot start (see [`try_app`]).
pub fn app(cfg: ServerConfig) -> Router {
    try_app(cfg).expect("starting the scoring thread pool")
}

/// [`app`], with an error when the thread pool cannot start.
pub fn try_app(cfg: ServerConfig) -> Result<Router, Error> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.threads)
        .thread_name(|i| format!("reward-{i}"))
        .build()
        .map_err(|e| Error::Pool(e.to_string()))?;
    let limit = cfg.body_limit;
    let shared = Arc::new(Shared { cfg, pool });
    Ok(Router::new()
        .route("/get_reward", post(get_reward))
        .route("/health", get(health))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(shared))
}

async fn health(State(s): State<Arc<Shared>>) -> Json<Value> {
    Json(json!({ "status": "ok", "reward": s.cfg.reward.name() }))
}

async fn get_reward(
    State(s): State<Arc<Shared>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, BadRequest> {
    let body = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => BadRequest(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("body too large (limit {} bytes)", s.cfg.body_limit),
        ),
        status => BadRequest(status, format!("cannot read the body: {e}")),
    })?;
    let mut de = serde_json::Deserializer::from_slice(&body);
    let req: RewardRequest = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let (path, e) = (e.path().to_string(), e.into_inner());
        if e.is_syntax() || e.is_eof() {
            bad(format!("body is not JSON: {e}"))
        } else if path == "." {
            bad(format!("body: {e}"))
        } else {
            bad(format!("{path}: {e}"))
        }
    })?;
    let jobs = resolve(&s.cfg, &req)?;
    let kind = s.cfg.reward;
    let scored = tokio::task::spawn_blocking(move || {
        use rayon::prelude::*;
        s.pool.install(|| {
            jobs.par_iter()
                .map(|(response, label)| kind.score(response, label))
                .collect::<Vec<_>>()
        })
    })
    .await
    .map_err(|e| {
        BadRequest(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("scoring failed: {e}"),
        )
    })?;
    let mut out = Vec::with_capacity(scored.len());
    for (i, r) in scored.into_iter().enumerate() {
        out.push(r.map_err(|msg| bad(format!("labels[{i}]: {msg}")))?);
    }
    Ok(Json(response_body(kind, &out)))
}

/// Each sample's response and label, or a 400 naming the field at fault.
fn resolve(cfg: &ServerConfig, req: &RewardRequest) -> Result<Vec<(String, String)>, BadRequest> {
    let n = req.query.len();
    if let Some(p) = &req.prompts {
        if p.len() != n {
            return Err(bad(format!(
                "prompts has {} items but query has {n}",
                p.len()
            )));
        }
    }
    if let Some(l) = &req.labels {
        if l.len() != n {
            return Err(bad(format!(
                "labels has {} items but query has {n}",
                l.len()
            )));
        }
    }
    let mut jobs = Vec::with_capacity(n);
    for (i, query) in req.query.iter().enumerate() {
        let prompt = req.prompts.as_ref().and_then(|p| p[i].as_deref());
        let label = match &req.labels {
            Some(labels) => match &labels[i] {
                Some(v) => protocol::label_text(v)
                    .ok_or_else(|| bad(format!("labels[{i}]: expected a string or a number")))?,
                None => return Err(bad(format!("labels[{i}] is null"))),
            },
            None if cfg.labels_by_prompt.is_empty() => {
                return Err(bad(
                    "labels missing (send `labels`, or start the server with --dataset to look them up by prompt)",
                ))
            }
            None => prompt
                .and_then(|p| cfg.labels_by_prompt.get(p))
                .or_else(|| protocol::problem_of(query).and_then(|p| cfg.labels_by_prompt.get(p)))
                .cloned()
                .ok_or_else(|| bad(format!("prompts[{i}]: no label for this prompt in --dataset")))?,
        };
        let response = protocol::response_of(query, prompt, cfg.template).to_string();
        jobs.push((response, label));
    }
    Ok(jobs)
}

/// `{"rewards", "scores", "extra_logs"}`; the math rewards add LMM-R1's `format_rewards` and
/// `acc_rewards` (also under `extra_logs`).
fn response_body(kind: RewardKind, scored: &[Scored]) -> Value {
    let rewards: Vec<f64> = scored.iter().map(|s| s.reward).collect();
    let format: Vec<f64> = scored.iter().map(|s| s.format.unwrap_or(0.0)).collect();
    let accuracy: Vec<f64> = scored.iter().map(|s| s.accuracy.unwrap_or(0.0)).collect();
    let mut body = json!({
        "rewards": rewards,
        "scores": rewards,
        "extra_logs": { "format_rewards": format, "acc_rewards": accuracy },
    });
    if kind != RewardKind::Sokoban {
        body["format_rewards"] = json!(format);
        body["acc_rewards"] = json!(accuracy);
    }
    body
}
