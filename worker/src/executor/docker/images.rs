//! The images this host's engine holds, for the heartbeat (placement prefers a worker that
//! already has a job's image).

use bollard::query_parameters::ListImagesOptions;
use bollard::Docker;
use gantry_api::ImageHeld;

/// Most images reported (the server's bound as well); the newest are kept.
pub const MAX_IMAGES_REPORTED: usize = 200;

/// The tagged images in the engine, newest first, at most [`MAX_IMAGES_REPORTED`]; `None`
/// when the engine does not answer.
pub(super) async fn held(docker: &Docker) -> Option<Vec<ImageHeld>> {
    let mut images = docker.list_images(None::<ListImagesOptions>).await.ok()?;
    images.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
    let mut held = Vec::new();
    for image in images {
        let digest = image
            .repo_digests
            .first()
            .and_then(|d| d.split_once('@'))
            .map(|(_, digest)| digest.to_string());
        for tag in image
            .repo_tags
            .iter()
            .filter(|t| t.as_str() != "<none>:<none>")
        {
            held.push(ImageHeld {
                reference: tag.clone(),
                digest: digest.clone(),
            });
        }
    }
    held.truncate(MAX_IMAGES_REPORTED);
    Some(held)
}
