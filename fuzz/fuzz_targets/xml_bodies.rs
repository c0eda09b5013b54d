//! Every XML request body: CreateBucket, PutBucketAcl, DeleteMultipleObjects, PutObjectTagging,
//! CompleteMultipartUpload, PutBucketCors, PutBucketCallbackPolicy and every bucket configuration. Bad XML is an OSS error
//! (MalformedXML and friends); CORS rules and callback policies that parse survive a
//! serialise-and-parse round trip unchanged.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ossd_callback::policy::BucketCallbackPolicy;
use ossd_proto::bucket_config::ConfigKind;
use ossd_proto::cors::CorsConfiguration;
use ossd_proto::xml;

#[path = "common.rs"]
mod common;

fn check<T: for<'de> serde::Deserialize<'de>>(text: &str) {
    if let Err(e) = xml::parse::<T>(text) {
        common::assert_oss_error(&e);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // Every bucket configuration's validation (the policy's JSON included): an OSS error or a body.
    for kind in [
        ConfigKind::Tagging,
        ConfigKind::Website,
        ConfigKind::Referer,
        ConfigKind::Logging,
        ConfigKind::Lifecycle,
        ConfigKind::Policy,
        ConfigKind::RequestPayment,
        ConfigKind::TransferAcceleration,
        ConfigKind::Versioning,
        ConfigKind::PublicAccessBlock,
        ConfigKind::UserDefinedLogFields,
        ConfigKind::StorageCapacity,
    ] {
        if let Err(e) = kind.validate(text) {
            common::assert_oss_error(&e);
        }
    }
    check::<xml::CreateBucketConfiguration>(text);
    check::<xml::AccessControlPolicyRequest>(text);
    check::<xml::DeleteRequest>(text);
    check::<xml::TaggingRequest>(text);
    check::<xml::multipart::CompleteMultipartUpload>(text);
    match CorsConfiguration::from_xml(text) {
        Ok(cfg) => {
            let again = CorsConfiguration::from_xml(&cfg.to_xml()).expect("serialised CORS rules parse");
            assert_eq!(again, cfg, "CORS rules round-trip");
        }
        Err(e) => common::assert_oss_error(&e),
    }
    match BucketCallbackPolicy::from_xml(text) {
        Ok(policy) => {
            let again = BucketCallbackPolicy::from_xml(&policy.to_xml()).expect("serialised callback policies parse");
            assert_eq!(again, policy, "callback policies round-trip");
        }
        Err(e) => common::assert_oss_error(&e),
    }
});
