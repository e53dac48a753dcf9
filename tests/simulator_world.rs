//! World files: the YAML format round-trips, the example loads, bad worlds are refused.

use crate::support;

use nylas_migrate::simulator::{AccountProvider, World};

fn examples() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/worlds")
}

#[test]
fn a_generated_world_round_trips_through_its_yaml() {
    let world = World::generate(300, 11);
    let text = world.to_yaml();
    assert_eq!(World::from_yaml_str(&text).unwrap(), world);
    let fixture = support::sim::fixture_world();
    assert_eq!(World::from_yaml_str(&fixture.to_yaml()).unwrap(), fixture);
    let empty = World::default();
    assert_eq!(World::from_yaml_str(&empty.to_yaml()).unwrap(), empty);
}

#[test]
fn seeded_channels_and_redirect_uris_round_trip() {
    let text = r#"
v2_apps:
  - {id: a, secret: s, region: us, redirect_uris: ["https://acme.example/cb"]}
v3_apps:
  - id: b
    api_key: k
    region: us
    pubsub_channels:
      - {topic: projects/acme/topics/events, trigger_types: [grant.created], status: paused, compressed_delivery: true}
      - {id: Chan0000000000000000000001, topic: projects/acme/topics/more, trigger_types: [message.created], description: "by hand", notification_email_addresses: [ops@acme.example]}
    sns_channels:
      - {topic: "arn:aws:sns:us-east-1:123456789012:events", role_arn: "arn:aws:iam::123456789012:role/nylas", trigger_types: [grant.expired], status: failing}
    redirect_uris:
      - {url: "https://app.acme.example/cb"}
      - {url: "com.acme.app://cb", platform: ios, settings: {bundle_id: com.acme.app, team_id: T1}}
unreachable_hosts: [hooks.down.example]
"#;
    let world = World::from_yaml_str(text).unwrap();
    let app = &world.v3_apps[0];
    assert_eq!(app.pubsub_channels.len(), 2);
    assert_eq!(
        app.pubsub_channels[0].status,
        nylas_migrate::api::ChannelStatus::Paused
    );
    assert_eq!(
        app.redirect_uris[1].platform,
        nylas_migrate::api::RedirectPlatform::Ios
    );
    assert!(world.is_unreachable("HOOKS.down.example"));
    assert_eq!(World::from_yaml_str(&world.to_yaml()).unwrap(), world);
}

#[test]
fn the_example_worlds_load() {
    let mut seen = 0;
    for entry in std::fs::read_dir(examples()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let world = World::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(world.account_count() > 0);
            seen += 1;
        }
    }
    assert!(seen > 0);
    let small = World::load(&examples().join("small.yaml")).unwrap();
    let us = &small.v2_apps[0];
    assert!(us.accounts.iter().any(|a| !a.migratable));
    assert!(us.integrations.contains(&AccountProvider::Microsoft));
    assert!(small.v3_apps.iter().any(|a| a.linked_v2_app.is_some()));
}

#[test]
fn bad_worlds_are_refused_with_a_reason() {
    let cases = [
        ("v2_apps: [{id: a, secret: s, region: mars}]", "mars"),
        (
            "v2_apps: [{id: a, secret: s, region: us, colour: red}]",
            "colour",
        ),
        (
            "v2_apps: [{id: a, secret: s, region: us, accounts: [{id: x, provider: google, email: e}, {id: x, provider: imap, email: f}]}]",
            "appears twice",
        ),
        (
            "v3_apps: [{id: b, api_key: k, region: eu, linked_v2_app: nope}]",
            "unknown v2 app",
        ),
        (
            "v2_apps: [{id: a, secret: s, region: us}]\nv3_apps: [{id: b, api_key: k, region: eu, linked_v2_app: a}]",
            "another region",
        ),
        (
            "v2_apps: [{id: a, secret: s, region: us",
            "invalid world file",
        ),
        (
            "v3_apps: [{id: b, api_key: k, region: us, pubsub_channels: [{topic: events, trigger_types: [grant.created]}]}]",
            "projects/<project>/topics/<topic>",
        ),
        (
            "v3_apps: [{id: b, api_key: k, region: us, sns_channels: [{topic: 'arn:aws:sns:us-east-1:123456789012:t', trigger_types: [grant.created]}]}]",
            "needs a role_arn",
        ),
        (
            "v3_apps: [{id: b, api_key: k, region: us, redirect_uris: [{url: 'https://x.example', platform: js}]}]",
            "settings.origin",
        ),
        (
            "v3_apps: [{id: b, api_key: k, region: us, pubsub_channels: [{topic: projects/p/topics/t1, trigger_types: [grant.created]}, {topic: projects/p/topics/t2, trigger_types: [grant.created]}, {topic: projects/p/topics/t3, trigger_types: [grant.created]}, {topic: projects/p/topics/t4, trigger_types: [grant.created]}, {topic: projects/p/topics/t5, trigger_types: [grant.created]}, {topic: projects/p/topics/t6, trigger_types: [grant.created]}]}]",
            "at most 5",
        ),
        (
            "v2_apps: [{id: a, secret: s, region: us, redirect_uris: ['http://acme.example/cb']}]",
            "https",
        ),
    ];
    for (text, expected) in cases {
        let err = World::from_yaml_str(text).unwrap_err().to_string();
        assert!(err.contains(expected), "{text:?}: {err}");
        assert!(!err.contains(": s,"), "{err}");
    }
}
