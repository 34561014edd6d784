# smtp-bot: SMTP AUTH switch for Exchange Online. This text is FIXED: every input arrives as
# base64(UTF-8 JSON) in $PayloadB64, is decoded here and is only ever bound as a parameter value
# (splatting), never parsed as code. Prints ONE JSON document; returns 0 (done, per-item errors
# inside) or 2 (fatal: payload, connect or org read failed).
param([string]$PayloadB64)
Set-StrictMode -Version 2
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$WarningPreference = 'SilentlyContinue'

function Get-ErrorInfo($err) {
    [ordered]@{
        type    = $err.Exception.GetType().FullName
        reason  = [string]$err.CategoryInfo.Reason
        fqid    = [string]$err.FullyQualifiedErrorId
        message = [string]$err.Exception.Message
    }
}

function ConvertTo-NullableBool($value) {
    # Deserialized EXO objects may carry the flag as a string; [bool]'False' would be $true.
    if ($null -eq $value -or [string]$value -eq '') { return $null }
    return [bool]::Parse([string]$value)
}

function New-ItemError([string]$type, [string]$message) {
    [ordered]@{ type = $type; reason = $type; fqid = ''; message = $message }
}

function Get-OneMailbox([string]$identity) {
    if ([string]::IsNullOrWhiteSpace($identity) -or $identity.Length -gt 320 -or
        $identity -match '[\x00-\x1f\x7f]') {
        return 'InvalidIdentity'
    }
    $get = @{ Identity = $identity; ErrorAction = 'Stop' }
    $found = @(Get-CASMailbox @get)
    if ($found.Count -gt 1) { return 'ManagementObjectAmbiguousException' }
    if ($found.Count -eq 0) { return 'ManagementObjectNotFoundException' }
    return $found[0]
}

$doc = [ordered]@{ v = 1; request_id = $null; note = $null; dry_run = $false; org = $null
    items = New-Object System.Collections.ArrayList; fatal = $null }
$phase = 'payload'
$connected = $false
$rc = 0
try {
    $json = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($PayloadB64))
    $req = ConvertFrom-Json -InputObject $json
    if ($req.v -ne 1) { throw [System.ArgumentException]::new('UnsupportedPayloadVersion') }
    $doc.request_id = [string]$req.request_id
    $doc.note = [string]$req.note
    $doc.dry_run = [bool]$req.dry_run
    $op = [string]$req.op
    $verb = [string]$req.verb
    if (@('check', 'status', 'apply') -notcontains $op) { throw [System.ArgumentException]::new('UnsupportedOp') }
    $want = $null
    switch ($verb) {
        'disable' { $want = $true }
        'enable' { $want = $false }
        'reset' { $want = $null }
        'status' { $want = $null }
        default { throw [System.ArgumentException]::new('UnsupportedVerb') }
    }
    if (($op -eq 'apply') -eq ($verb -eq 'status')) { throw [System.ArgumentException]::new('UnsupportedVerb') }
    $connect = @{ ShowBanner = $false; SkipLoadingFormatData = $true; ErrorAction = 'Stop'
        CommandName = @('Get-TransportConfig', 'Set-TransportConfig', 'Get-CASMailbox', 'Set-CASMailbox') }
    foreach ($key in @('Organization', 'AppId', 'CertificateThumbprint')) { $connect[$key] = [string]$req.connect.$key }
    $phase = 'connect'
    $null = Connect-ExchangeOnline @connect 6> $null
    $connected = $true
    $phase = 'org'
    $orgDisabled = (ConvertTo-NullableBool (Get-TransportConfig -ErrorAction Stop).SmtpClientAuthenticationDisabled) -eq $true
    $doc.org = [ordered]@{ before = $orgDisabled; after = $orgDisabled }
    $phase = 'items'
    $index = 0
    foreach ($item in @($req.items)) {
        $r = [ordered]@{ i = $index; scope = [string]$item.scope; identity = [string]$item.identity
            guid = $null; primary_smtp = $null; before = $null; after = $null; org = $orgDisabled
            changed = $false; would_set = $false; error = $null }
        $index++
        try {
            if ($r.scope -eq 'tenant') {
                $r.before = $orgDisabled
                $r.after = $orgDisabled
                if ($op -eq 'apply' -and $verb -ne 'reset' -and $orgDisabled -ne $want) {
                    if ($doc.dry_run) { $r.would_set = $true } else {
                        $set = @{ SmtpClientAuthenticationDisabled = $want; ErrorAction = 'Stop' }
                        Set-TransportConfig @set
                        $orgDisabled = (ConvertTo-NullableBool (Get-TransportConfig -ErrorAction Stop).SmtpClientAuthenticationDisabled) -eq $true
                        $r.after = $orgDisabled
                        $r.changed = $true
                        $doc.org.after = $orgDisabled
                    }
                }
                if ($op -eq 'apply' -and $verb -eq 'reset') { $r.error = New-ItemError 'UnsupportedVerb' 'reset' }
                $r.org = $orgDisabled
            } elseif ($r.scope -eq 'mailbox') {
                $box = Get-OneMailbox $r.identity
                if ($box -is [string]) { $r.error = New-ItemError $box 'identity did not match exactly one mailbox' } else {
                    $r.guid = [string]$box.Guid
                    $r.primary_smtp = [string]$box.PrimarySmtpAddress
                    $r.before = ConvertTo-NullableBool $box.SmtpClientAuthenticationDisabled
                    $r.after = $r.before
                    if ($op -eq 'apply' -and $r.before -ne $want) {
                        if ($doc.dry_run) { $r.would_set = $true } else {
                            $set = @{ Identity = $r.guid; SmtpClientAuthenticationDisabled = $want; ErrorAction = 'Stop' }
                            Set-CASMailbox @set
                            $get = @{ Identity = $r.guid; ErrorAction = 'Stop' }
                            $r.after = ConvertTo-NullableBool (Get-CASMailbox @get).SmtpClientAuthenticationDisabled
                            $r.changed = $true
                        }
                    }
                    $r.org = $orgDisabled
                }
            } else { $r.error = New-ItemError 'UnsupportedScope' $r.scope }
        } catch { $r.error = Get-ErrorInfo $_ }
        $null = $doc.items.Add($r)
    }
} catch {
    $doc.fatal = Get-ErrorInfo $_
    $doc.fatal['phase'] = $phase
    $rc = 2
} finally {
    if ($connected) {
        try { $null = Disconnect-ExchangeOnline -Confirm:$false 6> $null }
        catch { $doc['disconnect_error'] = $_.Exception.GetType().FullName }
    }
}
[Console]::Out.WriteLine((ConvertTo-Json -InputObject $doc -Depth 6 -Compress))
return $rc
