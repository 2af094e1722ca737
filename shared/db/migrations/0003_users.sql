-- Users who logged in with GitHub, and the packages they track. No OAuth token is stored.
CREATE TABLE users (
    id             bigserial PRIMARY KEY,
    github_id      bigint      NOT NULL UNIQUE,
    login          text        NOT NULL,
    name           text,
    avatar_url     text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_login_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE user_packages (
    user_id   bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    package   text        NOT NULL,
    added_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, package)
);
