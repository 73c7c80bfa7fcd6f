# sqlgate server image.
#   docker build -t sqlgate .
#   docker compose up demo        (see docker-compose.yml)
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin sqlgate

FROM debian:bookworm-slim
RUN useradd --system --home-dir /var/lib/sqlgate --create-home sqlgate \
    && install -d -o sqlgate /var/lib/sqlgate/.sqlgate-demo
COPY --from=build /src/target/release/sqlgate /usr/local/bin/sqlgate
USER sqlgate
WORKDIR /var/lib/sqlgate
EXPOSE 5433
ENTRYPOINT ["/usr/local/bin/sqlgate"]
CMD ["serve", "--demo", "--listen", "0.0.0.0:5433"]
