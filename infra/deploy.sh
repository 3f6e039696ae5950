#!/usr/bin/env bash
# Zabota on AWS with the caller's credentials (docs/DEPLOY.md). `make deploy` runs `make package` first.
#
#   infra/deploy.sh deploy             package upload, stack create/update, console upload (config.js injected)
#   infra/deploy.sh outputs            the stack's URLs and names
#   infra/deploy.sh releases           the templates deployed so far (newest last)
#   infra/deploy.sh rollback RELEASE   deploy an earlier release again (code and template as they were)
#   infra/deploy.sh destroy            empty the console bucket, delete the stack (tables, files, key are kept)
#
# Settings (environment): STACK (zabota), AWS_REGION / AWS_DEFAULT_REGION / AWS_PROFILE as for the AWS CLI,
# ARTIFACT_BUCKET (zabota-artifacts-<account>-<region>), and the stack parameters, applied when set and kept
# from the previous deploy otherwise: PUBLIC_URL, ALARM_EMAIL, LOG_RETENTION_DAYS, EMAIL_DOMAIN,
# INBOUND_EMAIL_RECIPIENT, EMAIL_CHANNEL_ID, WEBHOOK_CONCURRENCY, LEGACY_SECRETS_KEY_ARN. ACTIVATE_RECEIPT_RULES=1
# makes the stack's SES rule set the active one. The channel secrets' master key (an SSM SecureString, outside the
# stack) is made on the first deploy and never replaced.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/out"
STACK="${STACK:-zabota}"

die() { echo "error: $*" >&2; exit 1; }
say() { echo "==> $*" >&2; }

need_aws() {
  command -v aws >/dev/null || die "the AWS CLI (v2) is needed: https://docs.aws.amazon.com/cli/"
  REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-$(aws configure get region || true)}}"
  [ -n "$REGION" ] || die "no region: set AWS_REGION (or run aws configure)"
  export AWS_REGION="$REGION" AWS_DEFAULT_REGION="$REGION"
  ACCOUNT="$(aws sts get-caller-identity --query Account --output text)" || die "no usable AWS credentials"
  BUCKET="${ARTIFACT_BUCKET:-zabota-artifacts-$ACCOUNT-$REGION}"
}

output() {  # output NAME -> the stack output's value (empty when absent)
  aws cloudformation describe-stacks --stack-name "$STACK" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue | [0]" --output text 2>/dev/null | sed 's/^None$//'
}

parameter() {  # parameter NAME -> the deployed stack's current value (empty when absent)
  aws cloudformation describe-stacks --stack-name "$STACK" \
    --query "Stacks[0].Parameters[?ParameterKey=='$1'].ParameterValue | [0]" --output text 2>/dev/null \
    | sed 's/^None$//'
}

stack_exists() {
  aws cloudformation describe-stacks --stack-name "$STACK" >/dev/null 2>&1
}

ensure_artifact_bucket() {
  if aws s3api head-bucket --bucket "$BUCKET" 2>/dev/null; then return; fi
  say "creating the artifact bucket s3://$BUCKET"
  if [ "$REGION" = "us-east-1" ]; then
    aws s3api create-bucket --bucket "$BUCKET" >/dev/null
  else
    aws s3api create-bucket --bucket "$BUCKET" --create-bucket-configuration "LocationConstraint=$REGION" >/dev/null
  fi
  aws s3api put-public-access-block --bucket "$BUCKET" --public-access-block-configuration \
    BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true
}

overrides() {  # the parameters given in the environment (the rest keep their deployed values)
  local pairs=()
  [ -n "${PUBLIC_URL:-}" ] && pairs+=("PublicUrl=$PUBLIC_URL")
  [ -n "${ALARM_EMAIL:-}" ] && pairs+=("AlarmEmail=$ALARM_EMAIL")
  [ -n "${LOG_RETENTION_DAYS:-}" ] && pairs+=("LogRetentionDays=$LOG_RETENTION_DAYS")
  [ -n "${EMAIL_DOMAIN:-}" ] && pairs+=("EmailDomain=$EMAIL_DOMAIN")
  [ -n "${INBOUND_EMAIL_RECIPIENT:-}" ] && pairs+=("InboundEmailRecipient=$INBOUND_EMAIL_RECIPIENT")
  [ -n "${EMAIL_CHANNEL_ID:-}" ] && pairs+=("EmailChannelId=$EMAIL_CHANNEL_ID")
  [ -n "${WEBHOOK_CONCURRENCY:-}" ] && pairs+=("WebhookConcurrency=$WEBHOOK_CONCURRENCY")
  [ -n "${LEGACY_SECRETS_KEY_ARN+set}" ] && pairs+=("LegacySecretsKeyArn=${LEGACY_SECRETS_KEY_ARN}")
  if [ "${#pairs[@]}" -gt 0 ]; then printf '%s\n' "${pairs[@]}"; fi
}

cfn_deploy() {  # cfn_deploy TEMPLATE [Name=value ...]
  local template="$1"; shift
  local args=(--template-file "$template" --stack-name "$STACK" --s3-bucket "$BUCKET" --s3-prefix "$STACK"
              --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --no-fail-on-empty-changeset)
  if [ "$#" -gt 0 ]; then args+=(--parameter-overrides "$@"); fi
  aws cloudformation deploy "${args[@]}"
}

upload_console() {
  local dist="$ROOT/frontend/dist" site="$OUT/frontend" bucket ws distribution
  [ -f "$dist/index.html" ] || die "frontend/dist is missing: run make frontend (make deploy does)"
  bucket="$(output FrontendBucketName)"; ws="$(output WebsocketUrl)"; distribution="$(output DistributionId)"
  rm -rf "$site" && cp -R "$dist" "$site" && rm -f "$site/.built"
  printf 'window.ZABOTA_CONFIG = {"apiBase": "", "wsUrl": "%s"};\n' "$ws" > "$site/config.js"
  say "uploading the console to s3://$bucket"
  if [ -d "$site/assets" ]; then  # content-hashed file names: cache for a year
    aws s3 sync "$site/assets" "s3://$bucket/assets" --delete --only-show-errors \
      --cache-control "public, max-age=31536000, immutable"
  fi
  aws s3 sync "$site" "s3://$bucket" --delete --only-show-errors --exclude "assets/*" --cache-control "no-cache"
  aws cloudfront create-invalidation --distribution-id "$distribution" --paths "/*" >/dev/null
}

activate_receipt_rules() {
  local rule_set
  rule_set="$(output InboundMailRuleSetName)"
  if [ -n "$rule_set" ] && [ "${ACTIVATE_RECEIPT_RULES:-0}" = "1" ]; then
    say "activating the SES receipt rule set $rule_set (the region's previously active set is deactivated)"
    aws ses set-active-receipt-rule-set --rule-set-name "$rule_set"
  elif [ -n "$rule_set" ]; then
    say "SES rule set $rule_set exists but is not active: ACTIVATE_RECEIPT_RULES=1 infra/deploy.sh deploy"
  fi
}

release_name() {
  local sha
  sha="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo nogit)"
  echo "$(date -u +%Y%m%dT%H%M%SZ)-$sha"
}

ensure_secrets_key() {  # the SecureString the functions read their master key from (store/secrets.py)
  local name="/$STACK/channel-secrets-key"
  if aws ssm get-parameter --name "$name" --query Parameter.Name --output text >/dev/null 2>&1; then return; fi
  say "creating the channel secrets' master key $name (SSM SecureString, aws/ssm; keep it: it opens every secret)"
  aws ssm put-parameter --name "$name" --type SecureString --no-overwrite \
    --description "Zabota $STACK: master key of the channel secrets (never replace it)" \
    --value "$(python3 -c 'import base64, secrets; print(base64.b64encode(secrets.token_bytes(32)).decode())')" \
    >/dev/null
}

cmd_deploy() {
  [ -f "$OUT/sam.json" ] && [ -f "$OUT/deployment.zip" ] || die "out/ is empty: run make package (make deploy does)"
  need_aws
  ensure_artifact_bucket
  ensure_secrets_key
  say "uploading the bundle ($(du -h "$OUT/deployment.zip" | cut -f1)) and packaging the template"
  aws cloudformation package --template-file "$OUT/sam.json" --s3-bucket "$BUCKET" --s3-prefix "$STACK" \
    --output-template-file "$OUT/packaged.json" --use-json >/dev/null
  local release
  release="$(release_name)"
  aws s3 cp "$OUT/packaged.json" "s3://$BUCKET/$STACK/releases/$release.json" --only-show-errors
  local params=()
  mapfile -t params < <(overrides)
  say "deploying stack $STACK in $REGION (release $release)"
  cfn_deploy "$OUT/packaged.json" "${params[@]+"${params[@]}"}"
  if [ -z "${PUBLIC_URL:-}" ] && [ -z "$(parameter PublicUrl)" ]; then
    # first deploy: links and webhooks use the console's origin, whose name exists only now (PublicUrl, template)
    say "setting PublicUrl to the console's URL"
    cfn_deploy "$OUT/packaged.json" "PublicUrl=$(output ConsoleUrl)"
  fi
  upload_console
  activate_receipt_rules
  cmd_outputs
}

cmd_outputs() {
  [ -n "${ACCOUNT:-}" ] || need_aws
  cat <<EOF
console:          $(output ConsoleUrl)/
API:              $(parameter PublicUrl)/api/   (through CloudFront only: send X-Zabota-Authorization, docs/DEPLOY.md)
webhooks:         $(output WebhookUrl)api/webhooks/<kind>/<channel id>   (new channels register it)
live updates:     $(output WebsocketUrl)
failed stream:    $(output StreamDLQUrl)
main table:       $(output MainTableName)
files bucket:     $(output FilesBucketName)
EOF
}

cmd_releases() {
  need_aws
  aws s3 ls "s3://$BUCKET/$STACK/releases/" | awk '{print $4}' | sed 's/\.json$//' | sort
}

cmd_rollback() {
  local release="${1:-}"
  [ -n "$release" ] || die "which release? infra/deploy.sh releases lists them"
  need_aws
  aws s3 cp "s3://$BUCKET/$STACK/releases/$release.json" "$OUT/rollback.json" --only-show-errors
  say "deploying release $release again (parameters keep their current values)"
  cfn_deploy "$OUT/rollback.json"
  cmd_outputs
}

cmd_destroy() {
  need_aws
  stack_exists || die "no stack $STACK in $REGION"
  local bucket rule_set active
  bucket="$(output FrontendBucketName)"; rule_set="$(output InboundMailRuleSetName)"
  if [ -n "$rule_set" ]; then
    active="$(aws ses describe-active-receipt-rule-set --query Metadata.Name --output text 2>/dev/null || true)"
    if [ "$active" = "$rule_set" ]; then aws ses set-active-receipt-rule-set; fi  # no name: deactivate
  fi
  if [ -n "$bucket" ]; then aws s3 rm "s3://$bucket" --recursive --only-show-errors; fi
  say "deleting stack $STACK"
  aws cloudformation delete-stack --stack-name "$STACK"
  aws cloudformation wait stack-delete-complete --stack-name "$STACK"
  cat >&2 <<EOF
Stack $STACK deleted. Kept on purpose (DeletionPolicy: Retain), delete them yourself when sure:
  the main table (conversations), the files bucket (attachments), the channel secrets' master key
  (SSM parameter /$STACK/channel-secrets-key) and s3://$BUCKET (bundles and releases). docs/DEPLOY.md lists
  the commands.
EOF
}

case "${1:-}" in
  deploy) cmd_deploy ;;
  outputs) cmd_outputs ;;
  releases) cmd_releases ;;
  rollback) shift; cmd_rollback "$@" ;;
  destroy) cmd_destroy ;;
  *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
