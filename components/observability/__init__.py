"""What watches the stack: log and alert keys, topics, alarms and the dashboard, the account's audit trail with its CIS controls, key-access rules, the salt-age check."""
