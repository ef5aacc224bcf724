# gantry server and worker agent in one image (the compose file picks the command).
# For machines with a registry: this machine cannot pull base images.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p gantry -p gantry-worker

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/gantry /usr/local/bin/gantry
COPY --from=build /src/target/release/gantry-worker /usr/local/bin/gantry-worker
EXPOSE 8080
CMD ["gantry", "serve"]
