"""What a bucket costs: S3's storage prices, its billing rules, and the breakdown they apply to."""
