//! The local Nylas v3 simulator. (Being built: issue 3.)
