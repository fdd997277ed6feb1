"""Building blocks every component uses: tagged providers and stateful options, key policies, the Lambda function, the secure bucket."""
