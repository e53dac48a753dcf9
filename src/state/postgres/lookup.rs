//! Grouped reads of steps' rows on the journal's connection: the steps looked up while the
//! connection is busy are read together, in one query, so that concurrent steps (each reads its
//! row before it acts) do not wait a round trip each for one another.

use std::collections::HashMap;
use std::sync::mpsc;

use super::error::{Failure, parse_record, typed};
use super::worker::{Grouped, Job, Session};
use crate::state::journal::{StepState, StepStatus};

/// The most steps one query reads.
const MAX_LOOKUP: usize = 512;

const STEPS: &str = "SELECT step_id, status, record, run_id, updated_at FROM nylas_migrate.steps
     WHERE plan_id = $1 AND step_id = ANY($2)";

/// A step's row asked for, and where its reader waits.
pub(super) struct Lookup {
    pub(super) plan: i64,
    pub(super) step: String,
    pub(super) answer: mpsc::SyncSender<Result<Option<StepState>, Failure>>,
}

impl Grouped for Lookup {
    fn commit(
        session: &mut Session,
        first: Lookup,
        inbox: &mpsc::Receiver<Job<Lookup>>,
    ) -> Option<Job<Lookup>> {
        let plan = first.plan;
        let mut group = vec![first];
        let mut next = None;
        while group.len() < MAX_LOOKUP {
            match inbox.try_recv() {
                Ok(Job::Grouped(lookup)) if lookup.plan == plan => group.push(lookup),
                Ok(other) => {
                    next = Some(other);
                    break;
                }
                Err(_) => break,
            }
        }
        let steps: Vec<&str> = group.iter().map(|l| l.step.as_str()).collect();
        match read(session, plan, &steps) {
            Ok(rows) => {
                for lookup in group {
                    // A step asked for twice in one group is answered twice.
                    let row = match rows.get(&lookup.step) {
                        None => Ok(None),
                        Some(Ok(state)) => Ok(Some(state.clone())),
                        Some(Err(failure)) => Err(failure.again()),
                    };
                    let _ = lookup.answer.send(row);
                }
            }
            Err(e) => {
                let shared = std::sync::Arc::new(e);
                for lookup in group {
                    let _ = lookup.answer.send(Err(Failure::Shared(shared.clone())));
                }
            }
        }
        next
    }
}

/// The rows of `steps`, each read on its own: a value this version does not know fails its step
/// only.
fn read(
    session: &mut Session,
    plan: i64,
    steps: &[&str],
) -> Result<HashMap<String, Result<StepState, Failure>>, postgres::Error> {
    let statement = session.prepared(STEPS)?;
    let rows = session.client.query(&statement, &[&plan, &steps])?;
    let mut found = HashMap::new();
    for r in rows {
        let step: String = r.try_get(0)?;
        let state = (|| -> Result<StepState, Failure> {
            let shared = |e: postgres::Error| Failure::Shared(std::sync::Arc::new(e));
            Ok(StepState {
                status: typed(
                    &r.try_get::<_, String>(1).map_err(shared)?,
                    "step status",
                    StepStatus::parse,
                )?,
                record: parse_record(&r.try_get::<_, String>(2).map_err(shared)?)?,
                run_id: r.try_get(3).map_err(shared)?,
                updated_at: r.try_get(4).map_err(shared)?,
            })
        })();
        found.insert(step, state);
    }
    Ok(found)
}
