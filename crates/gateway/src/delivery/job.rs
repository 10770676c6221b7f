//! Push jobs: the items of the `push` queue.
//!
//! One job per (message, push recipient), enqueued atomically with the inbox copies at
//! acceptance. The job id is derived from the message id and the recipient, so that
//! re-enqueueing after a crash (or for a repeated submission) is de-duplicated by the
//! queue. The envelope itself is read from the recipient's inbox copy at push time: if
//! the agent already took the message from its inbox, there is nothing left to push.

use agentgate_core::{Address, MessageId, Timestamp};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// A pending push.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PushJob {
    /// The message.
    pub message_id: MessageId,
    /// The push agent.
    pub recipient: Address,
    /// When the message was accepted.
    pub accepted_at: Timestamp,
}

impl PushJob {
    /// The queue item id of this job.
    pub(crate) fn id(&self) -> Uuid {
        job_id(&self.message_id, &self.recipient)
    }

    /// The queue payload.
    pub(crate) fn encode(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(self).expect("job serialises"))
    }

    /// Parses a queue payload.
    pub(crate) fn decode(bytes: &[u8]) -> Option<PushJob> {
        serde_json::from_slice(bytes).ok()
    }
}

/// The queue id of the job pushing `id` to `recipient`: the first 16 bytes of
/// SHA-256(message id bytes ‖ recipient).
pub(crate) fn job_id(id: &MessageId, recipient: &Address) -> Uuid {
    let mut h = Sha256::new();
    h.update(id.as_bytes());
    h.update(recipient.to_string().as_bytes());
    let digest = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct_per_recipient() {
        let id = MessageId::v7(Timestamp(1), [2; 10]);
        let a = Address::parse("a@x.com").unwrap();
        let b = Address::parse("b@x.com").unwrap();
        assert_eq!(job_id(&id, &a), job_id(&id, &a));
        assert_ne!(job_id(&id, &a), job_id(&id, &b));
        let job = PushJob {
            message_id: id,
            recipient: a,
            accepted_at: Timestamp(1),
        };
        assert_eq!(PushJob::decode(&job.encode()), Some(job));
    }
}
