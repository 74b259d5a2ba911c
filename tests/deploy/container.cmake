# The container image, built with podman from the Dockerfile and run for real: a datastore
# made with the host's CLI is served from the container and restored through it
# (tests/deploy/container_test.sh). The first run on a machine builds the Debian base image
# and compiles everything inside the image, hence the long timeout; later runs reuse the
# cached layers and ccache. Skipped (exit 77) only when podman cannot run containers here.
add_test(NAME deploy_container_image
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/container_test.sh
    --source ${PROJECT_SOURCE_DIR}
    --cli $<TARGET_FILE:chunkcache>
    --container-env ${CHUNKCACHE_SHARED_DIR}/tools/container-env.sh)
set_tests_properties(deploy_container_image PROPERTIES
  LABELS deploy
  TIMEOUT 2400
  SKIP_RETURN_CODE 77
  RUN_SERIAL TRUE)
