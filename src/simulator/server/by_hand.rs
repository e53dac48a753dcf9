//! What people do outside the runner, in the dashboard, for tests that check the runner notices
//! (`verify`): the runner itself never deletes anything.

use super::RunningSimulator;

impl RunningSimulator {
    /// Deletes the webhook destinations of v3 application `app_id` whose URL is `webhook_url`,
    /// as a person would in the dashboard. Returns how many were deleted.
    pub fn delete_webhook_by_hand(&self, app_id: &str, webhook_url: &str) -> usize {
        let mut state = self.shared.state();
        let Some(app) = state.world.v3_apps.iter().position(|a| a.id == app_id) else {
            return 0;
        };
        let webhooks = &mut state.apps[app].webhooks;
        let before = webhooks.len();
        webhooks.retain(|w| w.webhook_url != webhook_url);
        before - webhooks.len()
    }
}
