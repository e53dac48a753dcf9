//! The Nylas v3 API client. (Being built: issue 4.)
