//! The replay's independent check: running totals of cash and lots kept while
//! records are applied, compared with the rebuilt accounts.

use std::sync::Arc;

use super::{Exchange, FastMap};
use crate::account::Side;
use crate::error::SimError;

/// Running totals kept while replaying, to check the rebuilt state independently.
#[derive(Debug, Clone, Default)]
pub struct Audit {
    /// Per user: funds in, commissions, close profits, settlement profits.
    pub cash: FastMap<Arc<str>, (f64, f64, f64, f64)>,
    /// Per (user, instrument, side): opened minus closed lots.
    pub net: FastMap<(Arc<str>, usize, Side), i64>,
    /// Fills whose recomputed cost differs from the journaled one.
    pub mismatches: Vec<String>,
}

impl Exchange {
    /// Checks the rebuilt state against the journal's own totals: positions against
    /// the sum of fills, funds against the sum of their movements.
    pub fn verify(&self) -> Result<(), SimError> {
        let mut problems = self.audit.mismatches.clone();
        for a in self.accounts.values() {
            let (funds, commission, close_profit, settled) = self
                .audit
                .cash
                .get(a.user_id.as_str())
                .copied()
                .unwrap_or_default();
            // Everything before today is in pre_balance; today's moves are separate.
            let expected = funds - commission + close_profit + settled;
            let actual = a.pre_balance + a.deposit - a.withdraw + a.close_profit - a.commission;
            if (expected - actual).abs() > 1e-4 * expected.abs().max(1.0) {
                problems.push(format!(
                    "funds of {}: movements sum to {expected:.2}, the account holds {actual:.2}",
                    a.user_id
                ));
            }
            if a.frozen_margin < -1e-6 || a.frozen_commission < -1e-6 {
                problems.push(format!("negative frozen funds on {}", a.user_id));
            }
        }
        for ((user, inst, side), net) in &self.audit.net {
            let held = self
                .accounts
                .get(&**user)
                .and_then(|a| a.positions.get(&(*inst, *side)))
                .map_or(0, |p| i64::from(p.total()));
            if held != *net {
                problems.push(format!(
                    "position {user} {} {side:?}: fills sum to {net}, the account holds {held}",
                    self.instruments.get(*inst).id
                ));
            }
        }
        for a in self.accounts.values() {
            for ((inst, side), p) in &a.positions {
                let key = (Arc::from(a.user_id.as_str()), *inst, *side);
                if p.total() != 0 && !self.audit.net.contains_key(&key) {
                    problems.push(format!(
                        "position {} {} has no fills",
                        a.user_id,
                        self.instruments.get(*inst).id
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(SimError::DoesNotAddUp { problems })
        }
    }
}
