//! `lmmr1-reward-server`: OpenRLHF's remote reward protocol on `lmmr1-rewards`.
//!
//! ```text
//! cargo run --release -p lmmr1-reward-server -- --port 5000 --reward lmm_r1_math
//! # OpenRLHF / LMM-R1: --remote_rm_url http://127.0.0.1:5000/get_reward
//! ```

use std::net::SocketAddr;

use anyhow::Context;
use clap::Parser;
use lmmr1_reward_server::{protocol, try_app, PromptTemplate, RewardKind, ServerConfig};

/// Serves `POST /get_reward` (OpenRLHF's remote reward protocol) and `GET /health`.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on.
    #[arg(long, default_value_t = 5000)]
    port: u16,
    /// The reward rule.
    #[arg(long, value_enum, default_value = "lmm_r1_math")]
    reward: RewardKind,
    /// How to find the response in a query sent without its prompt.
    #[arg(long, value_enum, default_value = "chatml")]
    prompt_template: PromptTemplate,
    /// jsonl/json datasets (comma separated) mapping prompts to labels, for clients that send
    /// no `labels` (LMM-R1's older protocol).
    #[arg(long)]
    dataset: Option<String>,
    /// The dataset field holding the prompt.
    #[arg(long, default_value = "prompt")]
    input_key: String,
    /// The dataset field holding the label.
    #[arg(long, default_value = "answer")]
    label_key: String,
    /// Scoring threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Largest request body, in MiB.
    #[arg(long, default_value_t = 64)]
    body_limit_mib: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let mut cfg = ServerConfig::new(a.reward, a.prompt_template);
    cfg.threads = a.threads;
    cfg.body_limit = a.body_limit_mib << 20;
    if let Some(paths) = &a.dataset {
        cfg.labels_by_prompt = protocol::load_labels(paths, &a.input_key, &a.label_key)?;
        eprintln!(
            "{} labelled prompts from {paths}",
            cfg.labels_by_prompt.len()
        );
    }
    let app = try_app(cfg)?;
    let addr: SocketAddr = format!("{}:{}", a.host, a.port)
        .parse()
        .with_context(|| format!("--host {} --port {}: not an address", a.host, a.port))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    eprintln!(
        "serving {} rewards on http://{addr}/get_reward",
        a.reward.name()
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
