//! Per-recipient delivery status and the rules for changing it.
//!
//! A message accepted for a local agent starts as [`DeliveryStatus::Delivered`] (pull:
//! it is durably in the inbox) or [`DeliveryStatus::Queued`] (push: a webhook call is
//! pending). A recipient refused at acceptance is [`DeliveryStatus::Failed`] from the
//! start. The push worker and inbox acknowledgements move it on; [`DeliveryStatus::can_become`]
//! says which moves are allowed, so a late or replayed event never moves a status back
//! (an acknowledged message does not become `retrying` again).

use serde::{Deserialize, Serialize};

/// Where one recipient's copy of a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Durably in the recipient's pull inbox, or pushed successfully.
    Delivered,
    /// Accepted; a push is pending.
    Queued,
    /// A push failed and will be retried.
    Retrying,
    /// Not deliverable: refused at acceptance, or pushes exhausted.
    Failed,
    /// The recipient acknowledged it (removed it from its inbox).
    Acknowledged,
}

impl DeliveryStatus {
    /// The status's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Queued => "queued",
            DeliveryStatus::Retrying => "retrying",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Acknowledged => "acknowledged",
        }
    }

    /// Whether a push is still pending for this recipient.
    pub fn is_pending(self) -> bool {
        matches!(self, DeliveryStatus::Queued | DeliveryStatus::Retrying)
    }

    /// Whether a recipient in this status may move to `next`.
    ///
    /// `Retrying → Retrying` is allowed (each failed attempt updates the record);
    /// `Failed → Acknowledged` is allowed because a message whose pushes ran out stays
    /// readable in the pull inbox and may still be acknowledged there. Nothing leaves
    /// `Acknowledged`.
    pub fn can_become(self, next: DeliveryStatus) -> bool {
        use DeliveryStatus::*;
        match self {
            Queued => matches!(next, Retrying | Delivered | Failed | Acknowledged),
            Retrying => matches!(next, Retrying | Delivered | Failed | Acknowledged),
            Delivered => matches!(next, Acknowledged),
            Failed => matches!(next, Acknowledged),
            Acknowledged => false,
        }
    }
}

/// The state of a message as a whole, summarised from its recipients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    /// Every recipient has it (delivered or acknowledged), none failed.
    Delivered,
    /// At least one push is pending and none has failed yet.
    Queued,
    /// At least one push is being retried.
    Retrying,
    /// Some recipients have it, some failed.
    Partial,
    /// No recipient has it.
    Failed,
    /// Every recipient acknowledged it.
    Acknowledged,
}

impl MessageStatus {
    /// The status's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Delivered => "delivered",
            MessageStatus::Queued => "queued",
            MessageStatus::Retrying => "retrying",
            MessageStatus::Partial => "partial",
            MessageStatus::Failed => "failed",
            MessageStatus::Acknowledged => "acknowledged",
        }
    }

    /// Summarises recipient statuses. Precedence: `retrying`, then `partial` (some
    /// failed, some not), `failed` (all failed), `queued`, `acknowledged` (all), and
    /// `delivered`. An empty list is `failed` (nobody has the message).
    pub fn summarise(statuses: impl IntoIterator<Item = DeliveryStatus>) -> MessageStatus {
        let (mut n, mut failed, mut acked, mut queued, mut retrying) = (0, 0, 0, 0, 0);
        for s in statuses {
            n += 1;
            match s {
                DeliveryStatus::Failed => failed += 1,
                DeliveryStatus::Acknowledged => acked += 1,
                DeliveryStatus::Queued => queued += 1,
                DeliveryStatus::Retrying => retrying += 1,
                DeliveryStatus::Delivered => {}
            }
        }
        if retrying > 0 {
            MessageStatus::Retrying
        } else if failed == n {
            MessageStatus::Failed
        } else if failed > 0 {
            MessageStatus::Partial
        } else if queued > 0 {
            MessageStatus::Queued
        } else if acked == n {
            MessageStatus::Acknowledged
        } else {
            MessageStatus::Delivered
        }
    }
}

#[cfg(test)]
mod tests {
    use super::DeliveryStatus::*;
    use super::*;

    const ALL: [DeliveryStatus; 5] = [Delivered, Queued, Retrying, Failed, Acknowledged];

    #[test]
    fn nothing_leaves_acknowledged_and_nothing_returns_to_queued() {
        for s in ALL {
            assert!(!Acknowledged.can_become(s));
            assert!(!s.can_become(Queued), "{s:?} -> queued");
        }
        assert!(Queued.can_become(Retrying));
        assert!(Retrying.can_become(Retrying));
        assert!(Retrying.can_become(Delivered));
        assert!(Retrying.can_become(Failed));
        assert!(Failed.can_become(Acknowledged));
        assert!(Delivered.can_become(Acknowledged));
        assert!(!Delivered.can_become(Retrying));
        assert!(!Failed.can_become(Retrying));
        assert!(!Delivered.can_become(Failed));
    }

    #[test]
    fn summary_precedence() {
        use MessageStatus as M;
        assert_eq!(M::summarise([]), M::Failed);
        assert_eq!(M::summarise([Delivered, Delivered]), M::Delivered);
        assert_eq!(M::summarise([Delivered, Acknowledged]), M::Delivered);
        assert_eq!(M::summarise([Acknowledged, Acknowledged]), M::Acknowledged);
        assert_eq!(M::summarise([Delivered, Queued]), M::Queued);
        assert_eq!(M::summarise([Queued, Retrying, Failed]), M::Retrying);
        assert_eq!(M::summarise([Delivered, Failed]), M::Partial);
        assert_eq!(M::summarise([Queued, Failed]), M::Partial);
        assert_eq!(M::summarise([Failed, Failed]), M::Failed);
    }

    #[test]
    fn wire_names() {
        for s in ALL {
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        assert_eq!(MessageStatus::Partial.as_str(), "partial");
    }
}
