//! TensorBoard event files (`OUT/tb/events.out.tfevents.*`): scalars for every metric and the
//! resolved config as text, so `tensorboard --logdir runs` shows a run.
//!
//! The format is TensorFlow's record file of `Event` protos: each record is the length (u64
//! little-endian), its masked CRC-32C, the serialized `Event`, and the data's masked CRC-32C;
//! the first event holds `file_version = "brain.Event:2"`. The messages below are the fields of
//! `tensorflow/core/util/event.proto` and `summary.proto` that scalars and text need, with
//! their field numbers.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use prost::Message;

use crate::{io_err, Result};

/// `tensorflow.Event`.
#[derive(Clone, PartialEq, prost::Message)]
struct Event {
    #[prost(double, tag = "1")]
    wall_time: f64,
    #[prost(int64, tag = "2")]
    step: i64,
    #[prost(string, optional, tag = "3")]
    file_version: Option<String>,
    #[prost(message, optional, tag = "5")]
    summary: Option<Summary>,
}

/// `tensorflow.Summary`.
#[derive(Clone, PartialEq, prost::Message)]
struct Summary {
    #[prost(message, repeated, tag = "1")]
    value: Vec<SummaryValue>,
}

/// `tensorflow.Summary.Value`.
#[derive(Clone, PartialEq, prost::Message)]
struct SummaryValue {
    #[prost(string, tag = "1")]
    tag: String,
    #[prost(float, optional, tag = "2")]
    simple_value: Option<f32>,
    #[prost(message, optional, tag = "8")]
    tensor: Option<TensorProto>,
    #[prost(message, optional, tag = "9")]
    metadata: Option<SummaryMetadata>,
}

/// `tensorflow.SummaryMetadata`.
#[derive(Clone, PartialEq, prost::Message)]
struct SummaryMetadata {
    #[prost(message, optional, tag = "1")]
    plugin_data: Option<PluginData>,
}

/// `tensorflow.SummaryMetadata.PluginData`.
#[derive(Clone, PartialEq, prost::Message)]
struct PluginData {
    #[prost(string, tag = "1")]
    plugin_name: String,
}

/// `tensorflow.TensorProto` (a string scalar).
#[derive(Clone, PartialEq, prost::Message)]
struct TensorProto {
    /// `DT_STRING` = 7.
    #[prost(int32, tag = "1")]
    dtype: i32,
    #[prost(message, optional, tag = "2")]
    tensor_shape: Option<TensorShape>,
    #[prost(bytes = "vec", repeated, tag = "8")]
    string_val: Vec<Vec<u8>>,
}

/// `tensorflow.TensorShapeProto` (no dimensions: a scalar).
#[derive(Clone, PartialEq, prost::Message)]
struct TensorShape {}

const DT_STRING: i32 = 7;

/// TensorFlow's masked CRC-32C: `rotr15(crc) + 0xa282ead8`.
fn masked_crc(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// One event file, appended record by record (each write is whole and flushed).
pub struct EventWriter {
    path: PathBuf,
    file: std::fs::File,
}

impl EventWriter {
    /// A new event file in `dir` (created), named as TensorFlow names them (time, host, pid),
    /// starting with the file-version event. A resumed run writes a new file; TensorBoard
    /// drops the steps the old file logged past the resumed step.
    pub fn create(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "lmmr1".into());
        let path = dir.join(format!(
            "events.out.tfevents.{now}.{host}.{}",
            std::process::id()
        ));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        let mut w = Self { path, file };
        w.write(&Event {
            wall_time: wall_time(),
            file_version: Some("brain.Event:2".into()),
            ..Event::default()
        })?;
        Ok(w)
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every finite metric as a scalar at `step`, tagged by its name.
    pub fn scalars(&mut self, step: usize, metrics: &BTreeMap<String, f64>) -> Result<()> {
        let value = metrics
            .iter()
            .filter(|(_, v)| v.is_finite())
            .map(|(k, v)| SummaryValue {
                tag: k.clone(),
                simple_value: Some(*v as f32),
                ..SummaryValue::default()
            })
            .collect();
        self.summary(step, value)
    }

    /// `text` under `tag` at `step` (TensorBoard's text plugin renders it as Markdown).
    pub fn text(&mut self, step: usize, tag: &str, text: &str) -> Result<()> {
        let value = SummaryValue {
            tag: tag.to_string(),
            tensor: Some(TensorProto {
                dtype: DT_STRING,
                tensor_shape: Some(TensorShape {}),
                string_val: vec![text.as_bytes().to_vec()],
            }),
            metadata: Some(SummaryMetadata {
                plugin_data: Some(PluginData {
                    plugin_name: "text".into(),
                }),
            }),
            ..SummaryValue::default()
        };
        self.summary(step, vec![value])
    }

    fn summary(&mut self, step: usize, value: Vec<SummaryValue>) -> Result<()> {
        self.write(&Event {
            wall_time: wall_time(),
            step: step as i64,
            summary: Some(Summary { value }),
            ..Event::default()
        })
    }

    fn write(&mut self, event: &Event) -> Result<()> {
        let data = event.encode_to_vec();
        let len = (data.len() as u64).to_le_bytes();
        let mut record = Vec::with_capacity(data.len() + 16);
        record.extend_from_slice(&len);
        record.extend_from_slice(&masked_crc(&len).to_le_bytes());
        record.extend_from_slice(&data);
        record.extend_from_slice(&masked_crc(&data).to_le_bytes());
        self.file
            .write_all(&record)
            .and_then(|()| self.file.flush())
            .map_err(io_err(&self.path))
    }
}

fn wall_time() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The records of an event file, each checked against its two CRCs.
    fn records(path: &Path) -> Vec<Event> {
        let bytes = std::fs::read(path).unwrap();
        let mut out = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let len_bytes = &bytes[at..at + 8];
            let len = u64::from_le_bytes(len_bytes.try_into().unwrap()) as usize;
            let crc = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap());
            assert_eq!(crc, masked_crc(len_bytes));
            let data = &bytes[at + 12..at + 12 + len];
            let crc = u32::from_le_bytes(bytes[at + 12 + len..at + 16 + len].try_into().unwrap());
            assert_eq!(crc, masked_crc(data));
            out.push(Event::decode(data).unwrap());
            at += 16 + len;
        }
        out
    }

    #[test]
    fn the_masked_crc_matches_tensorflow() {
        // TensorFlow's `crc32c::Mask` of the CRC-32C of "123456789" (0xe3069283, the standard
        // check value).
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(
            masked_crc(b"123456789"),
            0xe306_9283u32.rotate_right(15).wrapping_add(0xa282_ead8)
        );
    }

    #[test]
    fn scalars_and_text_are_framed_records() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = EventWriter::create(dir.path()).unwrap();
        let m = BTreeMap::from([
            ("reward/mean".to_string(), 0.25),
            ("kl/mean".to_string(), f64::NAN),
        ]);
        w.scalars(3, &m).unwrap();
        w.text(0, "config", "```toml\n[model]\n```").unwrap();
        let ev = records(w.path());
        assert_eq!(ev.len(), 3);
        assert_eq!(ev[0].file_version.as_deref(), Some("brain.Event:2"));
        let s = ev[1].summary.as_ref().unwrap();
        assert_eq!(ev[1].step, 3);
        assert_eq!(s.value.len(), 1, "the NaN is left out");
        assert_eq!(
            (s.value[0].tag.as_str(), s.value[0].simple_value),
            ("reward/mean", Some(0.25))
        );
        let t = &ev[2].summary.as_ref().unwrap().value[0];
        assert_eq!(
            t.tensor.as_ref().unwrap().string_val[0],
            b"```toml\n[model]\n```"
        );
        assert_eq!(
            t.metadata
                .as_ref()
                .unwrap()
                .plugin_data
                .as_ref()
                .unwrap()
                .plugin_name,
            "text"
        );
    }
}
