# smtp-bot bootstrap: stdin = base64(UTF-8 exchange.ps1) + newline + base64(UTF-8 JSON payload).
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false
$parts = ($input | Out-String).Split([char[]]" `r`n`t", [StringSplitOptions]::RemoveEmptyEntries)
if ($parts.Count -ne 2) { [Console]::Error.WriteLine('smtp-bot: bad stdin'); exit 3 }
$code = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($parts[0]))
$rc = & ([ScriptBlock]::Create($code)) $parts[1]
exit ([int](@($rc)[-1]))
